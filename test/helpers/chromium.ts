/**
 * Drives Debian's headless Chromium over the Chrome DevTools Protocol through `--remote-debugging-pipe`
 * (fd 3: commands in, fd 4: responses and events out, each JSON message ended by a NUL byte). No npm package
 * and no WebSocket needed (Node 20 has no global WebSocket).
 *
 * Threading / lifetime: one Chromium process per {@link ChromiumBrowser}; every command waits for its own
 * response with a timeout; {@link ChromiumBrowser.close} closes the browser, kills the process if it does not
 * exit, and removes its temporary profile directory.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Readable, Writable } from 'node:stream';

/** Path of the browser binary: TRTC_CHROMIUM, else Debian's /usr/bin/chromium. */
export function chromiumPath(): string {
  return process.env.TRTC_CHROMIUM ?? '/usr/bin/chromium';
}

/** The message a browser test fails with when Chromium is missing. */
export const CHROMIUM_MISSING_MESSAGE = `Chromium not found at ${chromiumPath()}. Install it with \`apt-get install -y chromium\` (Debian), point TRTC_CHROMIUM at a Chromium binary, or set TRTC_SKIP_BROWSER=1 to skip browser tests.`;

/**
 * `describe` for browser suites: skipped with a printed reason only when TRTC_SKIP_BROWSER=1. A missing browser
 * is NOT a skip: the suite fails with {@link CHROMIUM_MISSING_MESSAGE}.
 */
export function describeBrowser(name: string, fn: () => void): void {
  if (process.env.TRTC_SKIP_BROWSER === '1') {
    console.log(`[skip] ${name}: TRTC_SKIP_BROWSER=1 is set`);
    describe.skip(name, fn);
    return;
  }
  describe(name, () => {
    beforeAll(() => {
      if (!fs.existsSync(chromiumPath())) throw new Error(CHROMIUM_MISSING_MESSAGE);
    });
    fn();
  });
}

interface CdpMessage {
  id?: number;
  method?: string;
  params?: Record<string, unknown>;
  result?: Record<string, unknown>;
  error?: { code: number; message: string };
  sessionId?: string;
}

type Listener = (params: Record<string, unknown>, sessionId: string | undefined) => void;

/** What a page did that a test may assert on. */
export interface PageLog {
  /** Uncaught exceptions (Runtime.exceptionThrown). */
  pageErrors: string[];
  /** console.error / console.assert calls and browser log entries of level error (CSP violations, failed loads). */
  consoleErrors: string[];
  /** Every URL the page requested (Network.requestWillBeSent), the page itself included. */
  requests: string[];
}

/** A headless Chromium process and its DevTools pipe. */
export class ChromiumBrowser {
  private nextId = 1;
  private readonly pending = new Map<
    number,
    { resolve: (r: Record<string, unknown>) => void; reject: (e: Error) => void; method: string }
  >();
  private readonly listeners = new Map<string, Set<Listener>>();
  private buffer = Buffer.alloc(0);
  private exited = false;
  private stderr = '';

  private constructor(
    private readonly proc: ChildProcess,
    private readonly toBrowser: Writable,
    private readonly profileDir: string,
  ) {
    const fromBrowser = proc.stdio[4] as Readable;
    fromBrowser.on('data', (chunk: Buffer) => this.onData(chunk));
    proc.stderr?.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-4000);
    });
    proc.on('exit', (code, signal) => {
      this.exited = true;
      const err = new Error(`Chromium exited (code ${code}, signal ${signal}). stderr tail:\n${this.stderr}`);
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    });
  }

  /** Starts headless Chromium with the flags this machine needs (no sandbox as root, no background networking). */
  static async launch(): Promise<ChromiumBrowser> {
    const exe = chromiumPath();
    if (!fs.existsSync(exe)) throw new Error(CHROMIUM_MISSING_MESSAGE);
    const profileDir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'trtc-chromium-'));
    const args = [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--no-default-browser-check',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-extensions',
      '--hide-scrollbars',
      '--mute-audio',
      `--user-data-dir=${profileDir}`,
      '--remote-debugging-pipe',
      'about:blank',
    ];
    const proc = spawn(exe, args, { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] });
    await new Promise<void>((resolve, reject) => {
      proc.once('spawn', () => resolve());
      proc.once('error', reject);
    });
    const browser = new ChromiumBrowser(proc, proc.stdio[3] as Writable, profileDir);
    await browser.send('Browser.getVersion', {}, undefined, 30_000);
    return browser;
  }

  private onData(chunk: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    let end: number;
    while ((end = this.buffer.indexOf(0)) >= 0) {
      const text = this.buffer.subarray(0, end).toString('utf8');
      this.buffer = this.buffer.subarray(end + 1);
      const msg = JSON.parse(text) as CdpMessage;
      if (msg.id !== undefined) {
        const p = this.pending.get(msg.id);
        if (!p) continue;
        this.pending.delete(msg.id);
        if (msg.error) p.reject(new Error(`${p.method}: ${msg.error.message}`));
        else p.resolve(msg.result ?? {});
      } else if (msg.method) {
        for (const l of this.listeners.get(msg.method) ?? []) l(msg.params ?? {}, msg.sessionId);
      }
    }
  }

  /** Sends one CDP command (to a page when `sessionId` is given) and waits for its result. */
  send(
    method: string,
    params: Record<string, unknown> = {},
    sessionId?: string,
    timeoutMs = 20_000,
  ): Promise<Record<string, unknown>> {
    if (this.exited)
      return Promise.reject(new Error(`Chromium has exited; cannot send ${method}. stderr tail:\n${this.stderr}`));
    const id = this.nextId++;
    const msg: CdpMessage = { id, method, params };
    if (sessionId) msg.sessionId = sessionId;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${method} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, {
        method,
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.toBrowser.write(`${JSON.stringify(msg)}\0`);
    });
  }

  /** Subscribes to a CDP event; returns the unsubscribe function. */
  on(method: string, listener: Listener): () => void {
    let set = this.listeners.get(method);
    if (!set) this.listeners.set(method, (set = new Set()));
    set.add(listener);
    return () => set.delete(listener);
  }

  /** Opens a new page of the given viewport size, with error and request logging on. */
  async newPage(width = 1280, height = 900): Promise<ChromiumPage> {
    const { targetId } = (await this.send('Target.createTarget', { url: 'about:blank' })) as { targetId: string };
    const { sessionId } = (await this.send('Target.attachToTarget', { targetId, flatten: true })) as {
      sessionId: string;
    };
    const page = new ChromiumPage(this, sessionId);
    await Promise.all([
      this.send('Page.enable', {}, sessionId),
      this.send('Runtime.enable', {}, sessionId),
      this.send('Log.enable', {}, sessionId),
      this.send('Network.enable', {}, sessionId),
      this.send(
        'Emulation.setDeviceMetricsOverride',
        { width, height, deviceScaleFactor: 1, mobile: false },
        sessionId,
      ),
    ]);
    return page;
  }

  /** Closes the browser (kills it after 5 s) and removes its profile directory. */
  async close(): Promise<void> {
    if (!this.exited) {
      const exited = new Promise<void>((resolve) => this.proc.once('exit', () => resolve()));
      await this.send('Browser.close', {}, undefined, 5000).catch(() => undefined);
      const timer = setTimeout(() => this.proc.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    await fs.promises.rm(this.profileDir, { recursive: true, force: true });
  }
}

/** One tab of a {@link ChromiumBrowser}. */
export class ChromiumPage {
  /** Everything the page reported since it was opened. */
  readonly log: PageLog = { pageErrors: [], consoleErrors: [], requests: [] };

  constructor(
    private readonly browser: ChromiumBrowser,
    private readonly sessionId: string,
  ) {
    const mine =
      (fn: (p: Record<string, unknown>) => void): Listener =>
      (p, s) => {
        if (s === sessionId) fn(p);
      };
    browser.on(
      'Runtime.exceptionThrown',
      mine((p) => {
        const d = p.exceptionDetails as { text?: string; exception?: { description?: string } };
        this.log.pageErrors.push(d.exception?.description ?? d.text ?? JSON.stringify(d));
      }),
    );
    browser.on(
      'Runtime.consoleAPICalled',
      mine((p) => {
        if (p.type === 'error' || p.type === 'assert') {
          const args = (p.args as Array<{ value?: unknown; description?: string }>).map(
            (a) => a.description ?? String(a.value),
          );
          this.log.consoleErrors.push(`console.${String(p.type)}: ${args.join(' ')}`);
        }
      }),
    );
    browser.on(
      'Log.entryAdded',
      mine((p) => {
        const e = p.entry as { level: string; text: string; url?: string };
        if (e.level === 'error') this.log.consoleErrors.push(`${e.text}${e.url ? ` (${e.url})` : ''}`);
      }),
    );
    browser.on(
      'Network.requestWillBeSent',
      mine((p) => this.log.requests.push((p.request as { url: string }).url)),
    );
  }

  /** Navigates and waits for the load event. */
  async goto(url: string, timeoutMs = 30_000): Promise<void> {
    let off = (): void => undefined;
    const loaded = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`load of ${url} timed out after ${timeoutMs} ms`)), timeoutMs);
      off = this.browser.on('Page.loadEventFired', (_p, s) => {
        if (s !== this.sessionId) return;
        clearTimeout(timer);
        resolve();
      });
    });
    try {
      const r = (await this.browser.send('Page.navigate', { url }, this.sessionId)) as { errorText?: string };
      if (r.errorText) throw new Error(`navigation to ${url} failed: ${r.errorText}`);
      await loaded;
    } finally {
      off();
    }
  }

  /** Evaluates a JS expression in the page and returns its JSON value; a thrown exception rejects. */
  async evaluate<T>(expression: string): Promise<T> {
    const r = (await this.browser.send(
      'Runtime.evaluate',
      { expression, returnByValue: true, awaitPromise: true },
      this.sessionId,
    )) as {
      result: { value?: T };
      exceptionDetails?: { text: string; exception?: { description?: string } };
    };
    if (r.exceptionDetails)
      throw new Error(`evaluate failed: ${r.exceptionDetails.exception?.description ?? r.exceptionDetails.text}`);
    return r.result.value as T;
  }

  /** Dispatches a left click at page coordinates (CSS pixels of the viewport). */
  async click(x: number, y: number): Promise<void> {
    for (const type of ['mousePressed', 'mouseReleased']) {
      await this.browser.send(
        'Input.dispatchMouseEvent',
        { type, x, y, button: 'left', clickCount: 1 },
        this.sessionId,
      );
    }
  }

  /** PNG screenshot of the viewport, or of `clip` (page coordinates, may extend beyond the viewport). */
  async screenshot(clip?: { x: number; y: number; width: number; height: number }): Promise<Buffer> {
    const params: Record<string, unknown> = { format: 'png' };
    if (clip) {
      params.clip = { ...clip, scale: 1 };
      params.captureBeyondViewport = true;
    }
    const r = (await this.browser.send('Page.captureScreenshot', params, this.sessionId, 60_000)) as { data: string };
    return Buffer.from(r.data, 'base64');
  }
}
