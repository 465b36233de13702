/**
 * samples/calibration-service.ts, compiled and run as a child process on loopback: the refusals (paths, symlinks,
 * option injection, bodies, job ids) with a snapshot proving nothing appeared outside <root>/out; a load test
 * with autocannon (20 POSTs against concurrency 1 and queue 8, /health latency printed, never asserted); the
 * per-job time limit; SIGTERM in the middle of a job. Model: the PaddleOCR classifier; images made in code.
 */
import autocannon from 'autocannon';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { makeSyntheticImages } from '../../lib';
import { CLASSIFIER } from '../helpers/models';
import {
  compileService,
  openEvents,
  postJob,
  request,
  snapshotTree,
  startServiceProcess,
  type ServiceProcess,
} from '../helpers/service';

/** PaddleOCR classifier preprocessing: 3×48×192, (x / 255 - 0.5) / 0.5. */
const PREPROCESS = { shape: [3, 48, 192], scale: 1 / 255, mean: 0.5, std: 0.5, tensorrt: '10.3' };

let base: string; // holds root/ (the service's) and outside/ (what no request may reach)
let root: string;
let outside: string;
let before: string[];

/** The whole test folder except <root>/out: must never change. */
const treeOutsideOut = (): string[] => snapshotTree(base, [path.join('root', 'out')]);
const outEntries = (): string[] => fs.readdirSync(path.join(root, 'out')).sort();
/** Each suite starts from an empty <root>/out, whatever an earlier suite left (finished jobs keep their outputs). */
const emptyOut = (): void => {
  for (const entry of outEntries()) fs.rmSync(path.join(root, 'out', entry), { recursive: true });
};

beforeAll(async () => {
  compileService();
  base = fs.mkdtempSync(path.join(os.tmpdir(), 'trtc-service-'));
  root = path.join(base, 'root');
  outside = path.join(base, 'outside');
  for (const d of ['models', 'images', 'out']) fs.mkdirSync(path.join(root, d), { recursive: true });
  fs.mkdirSync(outside);
  fs.copyFileSync(CLASSIFIER, path.join(root, 'models', 'cls.onnx'));
  fs.symlinkSync('cls.onnx', path.join(root, 'models', 'alias.onnx')); // stays inside the root: allowed
  fs.mkdirSync(path.join(root, 'models', 'folder.onnx'));
  // A real model and real images outside the root, so a server that followed these links would succeed.
  fs.copyFileSync(CLASSIFIER, path.join(outside, 'secret.onnx'));
  fs.symlinkSync(path.join(outside, 'secret.onnx'), path.join(root, 'models', 'escape.onnx'));
  fs.symlinkSync('/etc/passwd', path.join(root, 'models', 'passwd.onnx'));
  await makeSyntheticImages(path.join(outside, 'images'), { kind: 'text-crops', count: 8, seed: 3 });
  fs.symlinkSync(path.join(outside, 'images'), path.join(root, 'images', 'escape'));
  await makeSyntheticImages(path.join(root, 'images', 'crops'), { kind: 'text-crops', count: 8 });
  await makeSyntheticImages(path.join(root, 'images', 'many'), { kind: 'text-crops', count: 48, seed: 2 });
  await makeSyntheticImages(path.join(root, 'images', 'mixed'), { kind: 'text-crops', count: 4, seed: 4 });
  fs.symlinkSync(
    path.join(outside, 'images', 'text-crops-0000.jpg'),
    path.join(root, 'images', 'mixed', 'text-crops-9999.jpg'),
  );
  before = treeOutsideOut();
}, 60000);

afterAll(() => fs.rmSync(base, { recursive: true, force: true }));

const ok = { model: 'cls.onnx', images: 'crops', options: PREPROCESS };

describe('calibration service: what it refuses', () => {
  let service: ServiceProcess;
  beforeAll(async () => {
    emptyOut();
    service = await startServiceProcess(['--root', root]);
  });
  afterAll(() => service.stop());

  // [what, body, status, code]
  const refusals: Array<[string, unknown, number, string]> = [
    ['.. in model', { ...ok, model: '../models/cls.onnx' }, 400, 'ERR_PATH_TRAVERSAL'],
    ['model ".."', { ...ok, model: '..' }, 400, 'ERR_PATH_TRAVERSAL'],
    ['.. in images', { ...ok, images: '../images/crops' }, 400, 'ERR_PATH_TRAVERSAL'],
    ['.. after a folder in images', { ...ok, images: 'crops/../../../outside/images' }, 400, 'ERR_PATH_TRAVERSAL'],
    ['.. with backslashes', { ...ok, images: '..\\outside' }, 400, 'ERR_PATH_TRAVERSAL'],
    [
      '.. written as JSON escapes',
      '{"model":"\\u002e\\u002e/outside/secret.onnx","images":"crops"}',
      400,
      'ERR_PATH_TRAVERSAL',
    ],
    ['an absolute model path', { ...ok, model: '/OUTSIDE/secret.onnx' }, 400, 'ERR_ABSOLUTE_PATH'],
    ['an absolute images path', { ...ok, images: '/etc' }, 400, 'ERR_ABSOLUTE_PATH'],
    ['a Windows drive path', { ...ok, model: 'C:\\models\\cls.onnx' }, 400, 'ERR_ABSOLUTE_PATH'],
    ['a UNC path', { ...ok, images: '\\\\server\\share' }, 400, 'ERR_ABSOLUTE_PATH'],
    ['a NUL byte in model', { ...ok, model: 'cls.onnx\u0000.txt' }, 400, 'ERR_NUL_BYTE'],
    ['a NUL byte in images', { ...ok, images: 'crops\u0000' }, 400, 'ERR_NUL_BYTE'],
    ['a model symlink leading out of root', { ...ok, model: 'escape.onnx' }, 400, 'ERR_SYMLINK_ESCAPE'],
    ['a model symlink to /etc/passwd', { ...ok, model: 'passwd.onnx' }, 400, 'ERR_SYMLINK_ESCAPE'],
    ['an images symlink leading out of root', { ...ok, images: 'escape' }, 400, 'ERR_SYMLINK_ESCAPE'],
    ['an image folder holding a symlink out of root', { ...ok, images: 'mixed' }, 400, 'ERR_SYMLINK_ESCAPE'],
    ['a subfolder path', { ...ok, images: 'crops/sub' }, 400, 'ERR_INVALID_NAME'],
    ['a hidden name', { ...ok, model: '.cls.onnx' }, 400, 'ERR_INVALID_NAME'],
    ['percent-encoding', { ...ok, model: '%2e%2e%2fsecret.onnx' }, 400, 'ERR_INVALID_NAME'],
    ['a home-relative path', { ...ok, model: '~' }, 400, 'ERR_INVALID_NAME'],
    ['an empty name', { ...ok, images: '' }, 400, 'ERR_INVALID_NAME'],
    ['a folder named as the model', { ...ok, model: 'folder.onnx' }, 400, 'ERR_INVALID_NAME'],
    ['a model that is not a name', { ...ok, model: 42 }, 400, 'ERR_INVALID_REQUEST'],
    ['images as an array', { ...ok, images: ['crops'] }, 400, 'ERR_INVALID_REQUEST'],
    ['no model', { images: 'crops' }, 400, 'ERR_INVALID_REQUEST'],
    ['options as an array', { ...ok, options: [] }, 400, 'ERR_INVALID_REQUEST'],
    ['a top-level cache path', { ...ok, cache: '/etc/x' }, 400, 'ERR_UNKNOWN_FIELD'],
    [
      'a top-level __proto__',
      '{"model":"cls.onnx","images":"crops","__proto__":{"cache":"/etc/x"}}',
      400,
      'ERR_UNKNOWN_FIELD',
    ],
    ['options.cache: "/etc/x"', { ...ok, options: { ...PREPROCESS, cache: '/etc/x' } }, 400, 'ERR_UNKNOWN_FIELD'],
    ['options.cache outside root', { ...ok, options: { cache: 'OUTSIDE/x.cache' } }, 400, 'ERR_UNKNOWN_FIELD'],
    ['options.report', { ...ok, options: { report: 'OUTSIDE/report' } }, 400, 'ERR_UNKNOWN_FIELD'],
    ['options.engine', { ...ok, options: { engine: 'OUTSIDE/x.plan' } }, 400, 'ERR_UNKNOWN_FIELD'],
    ['options.evaluationSource', { ...ok, options: { evaluationSource: '/etc' } }, 400, 'ERR_UNKNOWN_FIELD'],
    ['options.overwrite', { ...ok, options: { overwrite: true } }, 400, 'ERR_UNKNOWN_FIELD'],
    ['options.workers', { ...ok, options: { workers: 64 } }, 400, 'ERR_UNKNOWN_FIELD'],
    ['options.inputs', { ...ok, options: { inputs: { x: { shape: [3, 48, 192] } } } }, 400, 'ERR_UNKNOWN_FIELD'],
    [
      'options.__proto__',
      '{"model":"cls.onnx","images":"crops","options":{"__proto__":{"report":"/tmp"}}}',
      400,
      'ERR_UNKNOWN_FIELD',
    ],
    ['options.qdq as a path in /tmp', { ...ok, options: { ...PREPROCESS, qdq: '/tmp/x' } }, 400, 'ERR_INVALID_OPTION'],
    ['options.qdq as a path outside root', { ...ok, options: { qdq: 'OUTSIDE/x.onnx' } }, 400, 'ERR_INVALID_OPTION'],
    ['options.qdq as a number', { ...ok, options: { qdq: 1 } }, 400, 'ERR_INVALID_OPTION'],
    ['batchSize 0', { ...ok, options: { ...PREPROCESS, batchSize: 0 } }, 400, 'ERR_INVALID_OPTION'],
    ['batchSize as a string', { ...ok, options: { ...PREPROCESS, batchSize: '8' } }, 400, 'ERR_INVALID_OPTION'],
    ['batchSize past the bound', { ...ok, options: { ...PREPROCESS, batchSize: 65 } }, 400, 'ERR_INVALID_OPTION'],
    [
      'a batch past the byte bound',
      { ...ok, options: { shape: [3, 4096, 4096], batchSize: 64 } },
      400,
      'ERR_INVALID_OPTION',
    ],
    ['a two-dim shape', { ...ok, options: { shape: [48, 192] } }, 400, 'ERR_INVALID_OPTION'],
    ['an unknown color', { ...ok, options: { color: 'purple' } }, 400, 'ERR_INVALID_OPTION'],
    ['mean as an object', { ...ok, options: { mean: { r: 1 } } }, 400, 'ERR_INVALID_OPTION'],
    ['an unknown algorithm', { ...ok, options: { algorithm: 'fast' } }, 400, 'ERR_INVALID_OPTION'],
    ['a TensorRT version that is a path', { ...ok, options: { tensorrt: '../10.3' } }, 400, 'ERR_INVALID_OPTION'],
    ['percentile 200', { ...ok, options: { algorithm: 'percentile', percentile: 200 } }, 400, 'ERR_INVALID_OPTION'],
    ['a model that does not exist', { ...ok, model: 'nope.onnx' }, 404, 'ERR_MODEL_NOT_FOUND'],
    ['images that do not exist', { ...ok, images: 'nope' }, 404, 'ERR_IMAGES_NOT_FOUND'],
    ['malformed JSON', '{"model":', 400, 'ERR_INVALID_JSON'],
    ['an empty body', '', 400, 'ERR_INVALID_JSON'],
    ['a body that is not UTF-8', Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), 400, 'ERR_INVALID_JSON'],
    ['a JSON array', '[1]', 400, 'ERR_INVALID_REQUEST'],
    ['JSON null', 'null', 400, 'ERR_INVALID_REQUEST'],
  ];

  it.each(refusals)('refuses %s, and nothing appears outside <root>/out', async (_what, body, status, code) => {
    const sent =
      typeof body === 'string'
        ? body.replaceAll('OUTSIDE', outside)
        : Buffer.isBuffer(body)
          ? body
          : JSON.stringify(body).replaceAll('OUTSIDE', outside);
    const answer = await postJob(service.port, sent);
    expect({ status: answer.status, code: answer.json.code }).toEqual({ status, code });
    expect(typeof answer.json.message).toBe('string');
    expect(answer.text).not.toContain(root); // messages name things the client named, never the server's paths
    expect(treeOutsideOut()).toEqual(before);
    expect(outEntries()).toEqual([]);
  });

  it('refuses a body over --max-body (64 KiB) by its length, and a chunked one while it streams', async () => {
    const big = JSON.stringify({ ...ok, pad: ' '.repeat(70 * 1024) });
    const declared = await postJob(service.port, big);
    expect({ status: declared.status, code: declared.json.code }).toEqual({ status: 413, code: 'ERR_BODY_TOO_LARGE' });
    const chunked = await postJob(service.port, big, { 'transfer-encoding': 'chunked' });
    expect({ status: chunked.status, code: chunked.json.code }).toEqual({ status: 413, code: 'ERR_BODY_TOO_LARGE' });
    // Exactly at the limit the body is read and judged on its content.
    const atLimit = `{"model":"nope.onnx","images":"crops"${' '.repeat(64 * 1024 - 38)}}`;
    expect(Buffer.byteLength(atLimit)).toBe(64 * 1024);
    expect((await postJob(service.port, atLimit)).json.code).toBe('ERR_MODEL_NOT_FOUND');
    expect(treeOutsideOut()).toEqual(before);
    expect(outEntries()).toEqual([]);
  });

  it('refuses a body that is not declared as JSON (415) and methods an endpoint does not take (405)', async () => {
    const plain = await postJob(service.port, JSON.stringify(ok), { 'content-type': 'text/plain' });
    expect({ status: plain.status, code: plain.json.code }).toEqual({
      status: 415,
      code: 'ERR_UNSUPPORTED_MEDIA_TYPE',
    });
    const put = await request(service.port, { method: 'PUT', path: '/calibrate', body: '{}' });
    expect({ status: put.status, code: put.json.code, allow: put.headers.allow }).toEqual({
      status: 405,
      code: 'ERR_METHOD_NOT_ALLOWED',
      allow: 'POST',
    });
    expect(outEntries()).toEqual([]);
  });

  it('answers 404 with a code for unknown job ids and paths, whatever they are made of', async () => {
    const unknown = crypto.randomUUID();
    const cases: Array<[string, string, string]> = [
      ['GET', `/jobs/${unknown}`, 'ERR_JOB_NOT_FOUND'],
      ['DELETE', `/jobs/${unknown}`, 'ERR_JOB_NOT_FOUND'],
      ['GET', `/jobs/${unknown}/events`, 'ERR_JOB_NOT_FOUND'],
      ['GET', `/jobs/${unknown}/cache`, 'ERR_JOB_NOT_FOUND'],
      ['GET', '/jobs/not-a-job/qdq', 'ERR_JOB_NOT_FOUND'],
      ['GET', '/jobs/..%2f..%2fetc%2fpasswd/cache', 'ERR_JOB_NOT_FOUND'],
      ['GET', '/jobs/../../etc/passwd', 'ERR_NOT_FOUND'],
      ['GET', `/jobs/${unknown}/../../../out`, 'ERR_NOT_FOUND'],
      ['GET', '/out', 'ERR_NOT_FOUND'],
    ];
    for (const [method, urlPath, code] of cases) {
      const answer = await request(service.port, { method, path: urlPath });
      expect({ method, urlPath, status: answer.status, code: answer.json.code }).toEqual({
        method,
        urlPath,
        status: 404,
        code,
      });
    }
  });

  it('follows a symlink that stays inside the root; DELETE aborts the running job and leaves nothing', async () => {
    const accepted = await postJob(service.port, {
      model: 'alias.onnx',
      images: 'many',
      options: { ...PREPROCESS, batchSize: 4, qdq: true },
    });
    expect(accepted.status).toBe(202);
    const id = accepted.json.id as string;
    expect(accepted.json).toEqual({ id, status: 'running', events: `/jobs/${id}/events` });
    const events = await openEvents(service.port, id);
    await events.next((e) => e.event === 'progress');
    const deleted = await request(service.port, { method: 'DELETE', path: `/jobs/${id}` });
    expect(deleted.status).toBe(200);
    expect(deleted.json).toMatchObject({ id, status: 'aborted', error: { code: 'ERR_ABORTED' } });
    expect(await events.next((e) => e.event !== 'progress')).toEqual({
      event: 'error',
      data: { id, code: 'ERR_ABORTED', message: expect.any(String) },
    });
    await events.ended;
    expect((await request(service.port, { path: `/jobs/${id}` })).json.status).toBe('aborted');
    const cache = await request(service.port, { path: `/jobs/${id}/cache` });
    expect({ status: cache.status, code: cache.json.code }).toEqual({ status: 409, code: 'ERR_JOB_NOT_DONE' });
    expect(outEntries()).toEqual([]);
    expect(treeOutsideOut()).toEqual(before);
  });

  it('wrote nothing outside <root>/out, and nothing at the injected paths', () => {
    expect(treeOutsideOut()).toEqual(before);
    expect(fs.existsSync('/etc/x')).toBe(false);
    expect(fs.readdirSync(outside).sort()).toEqual(['images', 'secret.onnx']);
  });
});

describe('calibration service under load (concurrency 1, queue 8)', () => {
  let service: ServiceProcess;
  beforeAll(async () => {
    emptyOut();
    service = await startServiceProcess(['--root', root, '--concurrency', '1', '--queue', '8']);
  });
  afterAll(() => service.stop());

  it('accepts 1 + 8 of 20 simultaneous POSTs, refuses 11 with 429 and Retry-After, and every accepted job ends cleanly', async () => {
    const answers: Array<{ status: number; body: string; retryAfter?: string }> = [];
    const body = JSON.stringify({ model: 'cls.onnx', images: 'crops', options: PREPROCESS });
    const burst = await autocannon({
      url: `http://127.0.0.1:${service.port}`,
      connections: 20,
      amount: 20,
      requests: [
        {
          method: 'POST',
          path: '/calibrate',
          headers: { 'content-type': 'application/json' },
          body,
          onResponse: (status, text, _context, headers) =>
            answers.push({ status, body: text, retryAfter: (headers as Record<string, string>)['retry-after'] }),
        },
      ],
    });
    expect({ errors: burst.errors, timeouts: burst.timeouts }).toEqual({ errors: 0, timeouts: 0 });
    expect(burst.statusCodeStats).toEqual({ '202': { count: 9 }, '429': { count: 11 } });
    expect(answers).toHaveLength(20);
    const refused = answers.filter((a) => a.status === 429);
    for (const r of refused) {
      expect(JSON.parse(r.body)).toEqual({ code: 'ERR_QUEUE_FULL', message: expect.any(String) });
      expect(Number(r.retryAfter)).toBeGreaterThanOrEqual(1);
    }
    const ids = answers.filter((a) => a.status === 202).map((a) => (JSON.parse(a.body) as { id: string }).id);
    expect(new Set(ids).size).toBe(9);

    // Accepted in turn: the first starts at once, the next eight wait.
    const accepted = answers.filter((a) => a.status === 202).map((a) => JSON.parse(a.body) as { status: string });
    expect(accepted.filter((a) => a.status === 'running')).toHaveLength(1);
    expect(accepted.filter((a) => a.status === 'queued')).toHaveLength(8);
    // The queue is first in, first out: the jobs still waiting hold positions 1..n.
    const jobs = await Promise.all(ids.map(async (id) => (await request(service.port, { path: `/jobs/${id}` })).json));
    const queued = jobs.filter((j) => j.status === 'queued').sort((a, b) => Number(a.position) - Number(b.position));
    expect(queued.map((j) => j.position)).toEqual(queued.map((_, i) => i + 1));
    const streams = await Promise.all(ids.map((id) => openEvents(service.port, id)));
    const terminal = streams.map((s) => s.next((e) => e.event !== 'progress'));

    // The last two in the queue are aborted before they start.
    const cancelled = queued.slice(-2).map((j) => j.id as string);
    for (const id of cancelled) {
      const d = await request(service.port, { method: 'DELETE', path: `/jobs/${id}` });
      expect(d.json).toMatchObject({ id, status: 'aborted', error: { code: 'ERR_ABORTED' } });
    }

    // /health while the other seven calibrate, one after the other: latency recorded, not asserted (loaded CI).
    const health = await autocannon({
      url: `http://127.0.0.1:${service.port}/health`,
      connections: 2,
      amount: 300,
      overallRate: 60,
    });
    expect(health.statusCodeStats).toEqual({ '200': { count: 300 } });
    console.log(
      `/health during calibrations: p50 ${health.latency.p50} ms, p99 ${health.latency.p99} ms, max ${health.latency.max} ms (${health.requests.total} requests)`,
    );

    const ends = await Promise.all(terminal);
    const finished = new Map(ids.map((id, i) => [id, ends[i]]));
    for (const id of cancelled)
      expect(finished.get(id)).toMatchObject({ event: 'error', data: { code: 'ERR_ABORTED' } });
    const done = ids.filter((id) => !cancelled.includes(id));
    const caches: Buffer[] = [];
    for (const id of done) {
      expect(finished.get(id)).toMatchObject({
        event: 'done',
        data: { id, cache: `/jobs/${id}/cache`, tensors: 216, images: 8, skipped: 0 },
      });
      expect((await request(service.port, { path: `/jobs/${id}` })).json.status).toBe('done');
      const cache = await request(service.port, { path: `/jobs/${id}/cache` });
      expect(cache.status).toBe(200);
      caches.push(Buffer.from(cache.text));
      expect(fs.readdirSync(path.join(root, 'out', id))).toEqual(['calibration.cache']);
      const qdq = await request(service.port, { path: `/jobs/${id}/qdq` });
      expect({ status: qdq.status, code: qdq.json.code }).toEqual({ status: 404, code: 'ERR_NOT_FOUND' });
    }
    expect(caches[0].toString().split('\n')[0]).toBe('TRT-100300-EntropyCalibration2');
    for (const c of caches) expect(c.equals(caches[0])).toBe(true); // same data, same cache
    expect(outEntries()).toEqual([...done].sort());
    for (const id of cancelled)
      expect((await request(service.port, { path: `/jobs/${id}` })).json.status).toBe('aborted');
    expect(treeOutsideOut()).toEqual(before);

    // DELETE of a finished job removes its outputs.
    const removed = await request(service.port, { method: 'DELETE', path: `/jobs/${done[0]}` });
    expect(removed.json).toMatchObject({ id: done[0], status: 'done', removed: true });
    expect(fs.existsSync(path.join(root, 'out', done[0]))).toBe(false);
    expect((await request(service.port, { path: `/jobs/${done[0]}` })).status).toBe(404);
  }, 120000);
});

describe('calibration service: time limit and SIGTERM', () => {
  beforeEach(emptyOut);

  it('stops a job past --job-timeout as failed (ERR_JOB_TIMEOUT) and leaves nothing', async () => {
    const service = await startServiceProcess(['--root', root, '--job-timeout', '0.2']);
    try {
      const accepted = await postJob(service.port, { model: 'cls.onnx', images: 'many', options: PREPROCESS });
      const id = accepted.json.id as string;
      const events = await openEvents(service.port, id);
      expect(await events.next((e) => e.event !== 'progress')).toMatchObject({
        event: 'error',
        data: { id, code: 'ERR_JOB_TIMEOUT' },
      });
      expect((await request(service.port, { path: `/jobs/${id}` })).json).toMatchObject({
        status: 'failed',
        error: { code: 'ERR_JOB_TIMEOUT' },
      });
      expect(outEntries()).toEqual([]);
    } finally {
      await service.stop();
    }
  });

  it('on SIGTERM mid-job: stops accepting, aborts running and queued jobs, leaves no partial file, exits 0', async () => {
    const service = await startServiceProcess(['--root', root]);
    const body = { model: 'cls.onnx', images: 'many', options: { ...PREPROCESS, batchSize: 4, qdq: true } };
    const running = (await postJob(service.port, body)).json.id as string;
    const queued = (await postJob(service.port, body)).json.id as string;
    const runningEvents = await openEvents(service.port, running);
    const queuedEvents = await openEvents(service.port, queued);
    await runningEvents.next((e) => e.event === 'progress');
    service.child.kill('SIGTERM');
    // A request after the signal is never accepted: the listener is closed (connection refused) or it gets 503.
    const late = await postJob(service.port, body).then(
      (a) => a.status,
      (err: NodeJS.ErrnoException) => err.code,
    );
    expect(late).not.toBe(202);
    // The exit code says whether the shutdown finished in time: 0 graceful, 1 when its 4.5 s limit forced it.
    expect(await service.exited).toEqual({ code: 0, signal: null });
    for (const [stream, id] of [
      [runningEvents, running],
      [queuedEvents, queued],
    ] as const) {
      expect(stream.events.at(-1)).toEqual({
        event: 'error',
        data: { id, code: 'ERR_SHUTTING_DOWN', message: expect.any(String) },
      });
    }
    expect(service.output()).toContain('SIGTERM: shutting down');
    expect(outEntries()).toEqual([]);
    expect(treeOutsideOut()).toEqual(before);
  });
});
