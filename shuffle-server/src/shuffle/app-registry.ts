// The applications the shuffle tenant holds, with their shuffles and when each
// was last heard from (heartbeats, pushes, reads). An application silent for
// longer than appExpiryMs is removed by the service's expiry timer.
import { checkAppId } from '../../../schemas/ts/ids.js';
import { ErrorCode, PegasusError } from '../errors.js';
import type { Shuffle } from './shuffle.js';

export interface App {
  readonly appId: string;
  lastSeenMs: number;
  readonly shuffles: Map<number, Shuffle>;
}

export class AppRegistry {
  private readonly apps = new Map<string, App>();
  private shuffleTotal = 0;

  get size(): number {
    return this.apps.size;
  }

  /** Shuffles over every application. */
  get shuffleCount(): number {
    return this.shuffleTotal;
  }

  has(appId: string): boolean {
    return this.apps.has(appId);
  }

  get(appId: string): App | undefined {
    return this.apps.get(appId);
  }

  /** The application, or UNKNOWN_APP. */
  require(appId: string): App {
    checkAppId(appId);
    const app = this.apps.get(appId);
    if (app === undefined) throw new PegasusError(ErrorCode.UNKNOWN_APP, `application ${appId} is not registered`);
    return app;
  }

  /** Adds an application (the caller checked it is new). */
  add(appId: string, nowMs: number): App {
    const app: App = { appId, lastSeenMs: nowMs, shuffles: new Map() };
    this.apps.set(appId, app);
    return app;
  }

  /** Removes an application from the registry; returns it with its shuffles. */
  delete(appId: string): App | undefined {
    const app = this.apps.get(appId);
    if (app === undefined) return undefined;
    this.apps.delete(appId);
    this.shuffleTotal -= app.shuffles.size;
    return app;
  }

  addShuffle(app: App, s: Shuffle): void {
    app.shuffles.set(s.shuffleId, s);
    this.shuffleTotal++;
  }

  deleteShuffle(app: App, shuffleId: number): Shuffle | undefined {
    const s = app.shuffles.get(shuffleId);
    if (s === undefined) return undefined;
    app.shuffles.delete(shuffleId);
    this.shuffleTotal--;
    return s;
  }

  /** The shuffle, or UNKNOWN_APP / UNKNOWN_SHUFFLE; marks the application alive. */
  shuffle(appId: string, shuffleId: number): Shuffle {
    const app = this.require(appId);
    app.lastSeenMs = Date.now();
    const s = app.shuffles.get(shuffleId);
    if (s === undefined) throw new PegasusError(ErrorCode.UNKNOWN_SHUFFLE, `shuffle ${appId}/${shuffleId} is not registered`);
    return s;
  }

  values(): IterableIterator<App> {
    return this.apps.values();
  }

  *shuffles(): Iterable<Shuffle> {
    for (const app of this.apps.values()) yield* app.shuffles.values();
  }

  /** Applications silent for longer than `expiryMs` at `nowMs`. */
  expiredIds(nowMs: number, expiryMs: number): string[] {
    return [...this.apps.values()].filter((a) => nowMs - a.lastSeenMs > expiryMs).map((a) => a.appId);
  }
}
