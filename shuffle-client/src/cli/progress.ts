// A one-line progress bar on stderr, drawn only when stderr is a terminal
// (process.stderr.isTTY), so pipes and log files never see carriage returns.

import { PROGRESS_REDRAW_MS_MIN } from './limits.js';

const BAR_CELLS = 24;

export interface ProgressSink {
  isTTY?: boolean;
  columns?: number;
  write(s: string): unknown;
}

export class Progress {
  private readonly enabled: boolean;
  private lastDrawMs = 0;
  private drawn = false;

  constructor(private readonly sink: ProgressSink = process.stderr) {
    this.enabled = sink.isTTY === true;
  }

  /** Redraws `[#####-----] done/total label`, at most every PROGRESS_REDRAW_MS_MIN unless forced. */
  update(done: number, total: number, label: string, force = false): void {
    if (!this.enabled) return;
    const now = Date.now();
    // The last step is always drawn, so the bar never stops short of done.
    if (!force && done < total && now - this.lastDrawMs < PROGRESS_REDRAW_MS_MIN) return;
    this.lastDrawMs = now;
    const ratio = total > 0 ? Math.min(1, done / total) : 0;
    const filled = Math.round(ratio * BAR_CELLS);
    let text = `[${'#'.repeat(filled)}${'-'.repeat(BAR_CELLS - filled)}] ${done}/${total} ${label}`;
    const width = this.sink.columns ?? 80;
    if (text.length > width - 1) text = text.slice(0, width - 1);
    this.sink.write(`\r\x1b[2K${text}`);
    this.drawn = true;
  }

  /** Clears the line so what follows starts at column 0. */
  finish(): void {
    if (this.enabled && this.drawn) this.sink.write('\r\x1b[2K');
    this.drawn = false;
  }
}
