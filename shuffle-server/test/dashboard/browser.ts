// Headless Chromium for the dashboard tests: Debian's chromium (installed by
// scripts/setup-browser.sh), driven by playwright-core. Browser downloads do not
// work on this network, so there is no fallback: a missing browser is a failure
// with the command that fixes it, never a skip.
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

export const CHROMIUM_PATH = '/usr/bin/chromium';

/** Flags this machine's closed network needs (no QUIC, no background fetches). */
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

/** Playwright gives every launch() a fresh temporary profile (user data dir) and removes it on close. */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`Chromium is not installed (${CHROMIUM_PATH} is missing). Run: bash scripts/setup-browser.sh (installs Debian's chromium package)`);
  }
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, timeout: 60_000 });
}

/** A page whose console errors and uncaught exceptions are collected (CSP violations are console errors). */
export async function newPage(browser: Browser): Promise<{ page: Page; problems: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  return { page, problems };
}

/** Text of the element with this data-testid. */
export async function textOf(page: Page, testId: string): Promise<string> {
  return (await page.getByTestId(testId).first().textContent()) ?? '';
}

/** Polls `read` every 200 ms until `ok` holds for its value or `ms` pass; returns the last value. */
export async function waitFor<T>(read: () => Promise<T>, ok: (v: T) => boolean, ms: number): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await read();
    if (ok(v) || Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Saves a full-page PNG in a fresh temp dir, and in PEGASUS_SCREENSHOT_DIR when set. Returns the paths. */
export async function screenshot(page: Page, name: string): Promise<string[]> {
  const dirs = [await mkdtemp(join(tmpdir(), 'pegasus-dashboard-'))];
  const extra = process.env.PEGASUS_SCREENSHOT_DIR;
  if (extra !== undefined && extra !== '') {
    await mkdir(extra, { recursive: true });
    dirs.push(extra);
  }
  const paths = dirs.map((d) => join(d, `${name}.png`));
  const png = await page.screenshot({ fullPage: true });
  const { writeFile } = await import('node:fs/promises');
  await Promise.all(paths.map((p) => writeFile(p, png)));
  return paths;
}
