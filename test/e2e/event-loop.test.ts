/**
 * No stall (issue 18): during a whole calibrate() call, start-up included, the event loop keeps turning. A fresh child
 * process (so that the first call's costs are in it: the addon, ONNX Runtime's library and environment, the model,
 * the decode worker) calibrates the PaddleOCR detector at 3×320×320 on 4 images in batches of 2, alone and two at
 * once, under perf_hooks.monitorEventLoopDelay({ resolution: 1 }), and reports the longest delay.
 *
 * The bound is deliberately generous, 250 ms: this is a regression check, not a measurement. bench/event-loop/ holds
 * the measurements (the JS thread's own longest stretch is now about 15 ms on a loaded 2-core machine, and was 45–80
 * ms). On a shared machine, though, a thread can wait 100–250 ms for a CPU with no code of ours running at all, so
 * each case gets up to three fresh processes and passes when one of them stays under the bound. What it catches is a
 * synchronous step of the order of a second — a model encoded, a library loaded or a session destroyed on the JS
 * thread again — which fails all three.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { makeSyntheticImages } from '../../lib/synthetic/images';
import { DETECTOR } from '../helpers/models';

const root = path.join(__dirname, '..', '..');
const BOUND_MS = 250;
const TRIES = 3;

let dir: string;
let images: string;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trtc-event-loop-'));
  images = path.join(dir, 'scenes');
  await makeSyntheticImages(images, { kind: 'scenes', count: 4, seed: 17 });
}, 60000);
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** One fresh process: `count` calibrations at once; the event loop's max and p99 delay over them, in ms. */
function measure(count: number): { maxMs: number; p99Ms: number; used: number[] } {
  const script = `
    const { monitorEventLoopDelay } = require('node:perf_hooks');
    const { calibrate } = require(${JSON.stringify(path.join(root, 'dist', 'index.js'))});
    const delay = monitorEventLoopDelay({ resolution: 1 });
    delay.enable();
    const one = (k) => calibrate(${JSON.stringify(DETECTOR)}, ${JSON.stringify(images)}, {
      shape: [3, 320, 320], scale: 1 / 255, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225],
      batchSize: 2, tensorrt: '10.3', overwrite: true, cache: ${JSON.stringify(dir)} + '/det-' + k + '.cache',
    });
    Promise.all(Array.from({ length: ${count} }, (_, k) => one(k))).then((results) => {
      delay.disable();
      console.log(JSON.stringify({
        maxMs: delay.max / 1e6, p99Ms: delay.percentile(99) / 1e6, used: results.map((r) => r.images.used),
      }));
    });`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 120000 });
  if (r.status !== 0) throw new Error(`the child process failed (${r.status ?? r.signal}): ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop() as string);
}

describe('the event loop during calibrate()', () => {
  it.each([
    ['alone', 1],
    ['two at once', 2],
  ])(
    `never stalls ${BOUND_MS} ms or more, start-up included: the detector %s`,
    (_title, count) => {
      const tries: Array<{ maxMs: number; p99Ms: number }> = [];
      for (let i = 0; i < TRIES; i++) {
        const { maxMs, p99Ms, used } = measure(count);
        expect(used).toEqual(Array(count).fill(4));
        tries.push({ maxMs, p99Ms });
        if (maxMs < BOUND_MS) break;
      }
      // Every try, so that a failure shows how far off each was.
      expect({ best: Math.min(...tries.map((t) => t.maxMs)) < BOUND_MS, tries }).toEqual({ best: true, tries });
    },
    600000,
  );
});
