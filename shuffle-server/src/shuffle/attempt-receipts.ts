// Which batches each uncommitted map attempt has pushed. This is what makes a
// retried push idempotent (a batch is stored once) and what a commit checks
// (every batch 0..n-1 arrived). It is memory only, by design: after a restart
// an attempt that had not committed cannot commit (MISSING_BATCHES) and the
// engine retries the task as a new attempt, which is always safe.
import { ErrorCode, PegasusError } from '../errors.js';
import { BATCHES_PER_ATTEMPT_MAX, OPEN_ATTEMPTS_PER_SHUFFLE_MAX } from '../limits.js';

export class AttemptReceipts {
  /** mapId -> attempt -> batches received */
  private readonly byMap = new Map<number, Map<number, Set<number>>>();
  private attemptCount = 0;

  has(mapId: number, attempt: number, batch: number): boolean {
    return this.byMap.get(mapId)?.get(attempt)?.has(batch) ?? false;
  }

  /** Records a batch; false if it was already recorded. Throws LIMIT_EXCEEDED past the bounds. */
  add(mapId: number, attempt: number, batch: number): boolean {
    let attempts = this.byMap.get(mapId);
    if (attempts === undefined) {
      attempts = new Map();
      this.byMap.set(mapId, attempts);
    }
    let batches = attempts.get(attempt);
    if (batches === undefined) {
      if (this.attemptCount >= OPEN_ATTEMPTS_PER_SHUFFLE_MAX) {
        throw new PegasusError(ErrorCode.LIMIT_EXCEEDED, `more than ${OPEN_ATTEMPTS_PER_SHUFFLE_MAX} open map attempts in one shuffle`);
      }
      batches = new Set();
      attempts.set(attempt, batches);
      this.attemptCount++;
    }
    if (batches.has(batch)) return false;
    if (batches.size >= BATCHES_PER_ATTEMPT_MAX) {
      throw new PegasusError(ErrorCode.LIMIT_EXCEEDED, `map ${mapId} attempt ${attempt} pushed more than ${BATCHES_PER_ATTEMPT_MAX} batches`);
    }
    batches.add(batch);
    return true;
  }

  /** Forgets a batch whose blocks could not be buffered after all. */
  remove(mapId: number, attempt: number, batch: number): void {
    this.byMap.get(mapId)?.get(attempt)?.delete(batch);
  }

  /** The first missing batch in 0..batchCount-1, or -1 when all arrived. */
  firstMissing(mapId: number, attempt: number, batchCount: number): number {
    const batches = this.byMap.get(mapId)?.get(attempt);
    for (let b = 0; b < batchCount; b++) if (batches === undefined || !batches.has(b)) return b;
    return -1;
  }

  /** Drops every attempt of a map (it has committed; later pushes are discarded). */
  forgetMap(mapId: number): void {
    const attempts = this.byMap.get(mapId);
    if (attempts === undefined) return;
    this.attemptCount -= attempts.size;
    this.byMap.delete(mapId);
  }
}
