/**
 * Drives samples/calibration-service.ts as its users run it: compiled to dist-samples/ and started as a child
 * process (`node dist-samples/samples/calibration-service.js --port 0 --root <dir>`), spoken to over loopback HTTP.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import * as ts from 'typescript';

const root = path.join(__dirname, '..', '..');
const SOURCE = path.join(root, 'samples', 'calibration-service.ts');
/** Where `npm run build:samples` (tsc -p tsconfig.samples.json) puts the compiled sample. */
export const COMPILED_SERVICE = path.join(root, 'dist-samples', 'samples', 'calibration-service.js');

/**
 * Compiles the sample with tsconfig.samples.json's options into dist-samples/, as `npm run build:samples` does
 * for this file. The project compiles with isolatedModules, so one file's output does not depend on the others
 * and transpiling it alone gives tsc's output (type checking is the lint step's job: tsconfig.json covers
 * samples/). The sample imports the package by name, which resolves to the compiled package in dist/.
 */
export function compileService(): void {
  if (!fs.existsSync(path.join(root, 'dist', 'index.js')))
    throw new Error('dist/index.js is missing: compile the package first (npx tsc -p tsconfig.build.json)');
  const config = ts.getParsedCommandLineOfConfigFile(
    path.join(root, 'tsconfig.samples.json'),
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) => {
        throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
      },
    },
  );
  if (!config) throw new Error('tsconfig.samples.json could not be read');
  const out = ts.transpileModule(fs.readFileSync(SOURCE, 'utf8'), {
    fileName: SOURCE,
    compilerOptions: config.options,
    reportDiagnostics: true,
  });
  if (out.diagnostics?.length)
    throw new Error(out.diagnostics.map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n')).join('\n'));
  fs.mkdirSync(path.dirname(COMPILED_SERVICE), { recursive: true });
  fs.writeFileSync(COMPILED_SERVICE, out.outputText);
}

/** A started service process. */
export interface ServiceProcess {
  port: number;
  child: ChildProcess;
  /** Settles with the exit code and signal when the process ends. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Everything it printed so far (stdout and stderr). */
  output(): string;
  /** SIGTERM (if still running) and wait for the exit. */
  stop(): Promise<void>;
}

/** Starts the compiled sample with `args` and resolves once it prints the port it listens on. */
export function startServiceProcess(args: readonly string[]): Promise<ServiceProcess> {
  const child = spawn(process.execPath, [COMPILED_SERVICE, '--port', '0', ...args], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      text += chunk.toString();
      const m = /listening on http:\/\/[^\s:]+:(\d+)/.exec(text);
      if (m && child.stdout) {
        resolve({
          port: Number(m[1]),
          child,
          exited,
          output: () => text,
          async stop() {
            if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
            await exited;
          },
        });
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (chunk: Buffer) => (text += chunk.toString()));
    void exited.then(({ code }) => reject(new Error(`the service exited with ${code} before listening:\n${text}`)));
  });
}

/** An HTTP answer, its body parsed as JSON where it is JSON. */
export interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  json: Record<string, unknown>;
}

/** One request on a fresh connection (no keep-alive between tests). */
export function request(
  port: number,
  options: { method?: string; path: string; headers?: Record<string, string>; body?: string | Buffer },
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method: options.method ?? 'GET',
        path: options.path,
        headers: options.headers,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: Record<string, unknown> = {};
          if ((res.headers['content-type'] ?? '').startsWith('application/json'))
            json = JSON.parse(text) as Record<string, unknown>;
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

/** POST /calibrate with a JSON body (a string is sent as is, anything else is JSON-encoded). */
export function postJob(port: number, body: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  return request(port, {
    method: 'POST',
    path: '/calibrate',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body),
  });
}

/** One server-sent event. */
export interface ServiceEvent {
  event: string;
  data: Record<string, unknown>;
}

/** A job's event stream, read as it arrives. */
export interface EventStream {
  events: ServiceEvent[];
  /** Resolves with the first event (already received or still to come) that `match` accepts. */
  next(match: (e: ServiceEvent) => boolean): Promise<ServiceEvent>;
  /** Resolves when the server ends the stream. */
  ended: Promise<void>;
  close(): void;
}

/** Opens GET /jobs/<id>/events. */
export function openEvents(port: number, id: string): Promise<EventStream> {
  return new Promise((resolve, reject) => {
    const events: ServiceEvent[] = [];
    const waiters: Array<{ match: (e: ServiceEvent) => boolean; resolve: (e: ServiceEvent) => void }> = [];
    let endStream = (): void => undefined;
    const ended = new Promise<void>((r) => (endStream = r));
    const req = http.get({ host: '127.0.0.1', port, path: `/jobs/${id}/events`, agent: false }, (res) => {
      if (res.statusCode !== 200) {
        reject(new Error(`GET /jobs/${id}/events answered ${res.statusCode}`));
        res.resume();
        return;
      }
      let buffer = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let cut: number;
        while ((cut = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const lines = block.split('\n').filter((l) => !l.startsWith(':'));
          const name = lines.find((l) => l.startsWith('event: '));
          const data = lines.find((l) => l.startsWith('data: '));
          if (!name || !data) continue;
          const e = { event: name.slice(7), data: JSON.parse(data.slice(6)) as Record<string, unknown> };
          events.push(e);
          for (const w of [...waiters]) {
            if (w.match(e)) {
              waiters.splice(waiters.indexOf(w), 1);
              w.resolve(e);
            }
          }
        }
      });
      res.on('end', endStream);
      res.on('close', endStream);
      resolve({
        events,
        ended,
        next: (match) => {
          const seen = events.find(match);
          return seen ? Promise.resolve(seen) : new Promise((r) => waiters.push({ match, resolve: r }));
        },
        close: () => req.destroy(),
      });
    });
    req.on('error', reject);
  });
}

/**
 * Every entry under `dir` (not following symlinks), as sorted "path type size [-> target]" lines, leaving out
 * the relative paths in `skip` and everything under them.
 */
export function snapshotTree(dir: string, skip: readonly string[] = []): string[] {
  const lines: string[] = [];
  const walk = (rel: string): void => {
    for (const name of fs.readdirSync(path.join(dir, rel))) {
      const r = path.join(rel, name);
      if (skip.includes(r)) continue;
      const full = path.join(dir, r);
      const st = fs.lstatSync(full);
      if (st.isSymbolicLink()) lines.push(`${r} link -> ${fs.readlinkSync(full)}`);
      else if (st.isDirectory()) {
        lines.push(`${r} dir`);
        walk(r);
      } else lines.push(`${r} file ${st.size}`);
    }
  };
  walk('');
  return lines.sort();
}
