// Every bound shufflectl puts on its own work, in one place (TIGER_STYLE: a
// limit on everything). Durations are in milliseconds unless the name says
// otherwise; command-line options take seconds.

/** One admin request (status, apps, a DELETE...) when --timeout is not given. */
export const REQUEST_TIMEOUT_MS_DEFAULT = 10_000;
/** One POST /api/v1/verify re-reads a whole shuffle from disk: minutes for large ones. */
export const VERIFY_TIMEOUT_MS_DEFAULT = 600_000;
/** `decommission --wait` gives up after this long when --timeout is not given. */
export const DECOMMISSION_WAIT_MS_DEFAULT = 600_000;
/** Largest --timeout accepted (1 day). */
export const TIMEOUT_MS_MAX = 24 * 3600_000;
/** Poll and redraw intervals (--interval): default, least, most. */
export const INTERVAL_MS_DEFAULT = 2_000;
export const DECOMMISSION_POLL_MS_DEFAULT = 1_000;
export const INTERVAL_MS_MIN = 100;
export const INTERVAL_MS_MAX = 3600_000;
/** Servers one invocation talks to. */
export const SERVERS_MAX = 1024;
/** Largest answer body read from a server (a /metrics text, a long shuffle list). */
export const RESPONSE_BYTES_MAX = 64 * 1024 * 1024;
/** Least time between two redraws of the progress bar. */
export const PROGRESS_REDRAW_MS_MIN = 100;
