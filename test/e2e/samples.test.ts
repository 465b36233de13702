/**
 * @jest-environment ./test/helpers/ort-environment.js
 *
 * The samples that need no GPU, run as a user would call them (their exported main functions).
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { main as calibrateFolder, CLASSIFIER } from '../../samples/calibrate-folder';
import { main as twoInput } from '../../samples/two-input';
import { startService } from '../../samples/calibration-service';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trtc-samples-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function post(port: number, body: unknown): Promise<Array<{ event: string; data: Record<string, unknown> }>> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: '/calibrate', method: 'POST' }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () =>
        resolve(
          text
            .split('\n\n')
            .filter(Boolean)
            .map((block) => {
              const [eventLine, dataLine] = block.split('\n');
              return {
                event: eventLine.replace('event: ', ''),
                data: JSON.parse(dataLine.replace('data: ', '')) as Record<string, unknown>,
              };
            }),
        ),
      );
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

function get(port: number, urlPath: string): Promise<string> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: urlPath }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve(text));
      })
      .on('error', reject);
  });
}

describe('samples', () => {
  it('calibrate-folder renders text crops and calibrates the PaddleOCR classifier', async () => {
    const log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
    const result = await calibrateFolder(path.join(dir, 'crops'), path.join(dir, 'cls.cache'));
    log.mockRestore();
    expect(result.images.used).toBe(64);
    expect(Object.keys(result.tensors)).toHaveLength(216);
    expect(fs.readFileSync(path.join(dir, 'cls.cache'), 'utf8').split('\n')[0]).toBe('TRT-100300-EntropyCalibration2');
  }, 120000);

  it('two-input binds image and im_info by name', async () => {
    const log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
    const result = await twoInput(path.join(dir, 'scenes'));
    log.mockRestore();
    expect(Object.keys(result.tensors).slice(0, 2)).toEqual(['image', 'im_info']);
    // im_info holds [96-ish, 128, scale] per image: its amax is the resized width, 128
    expect(result.tensors.im_info.amax).toBeCloseTo(128, 3);
  }, 120000);

  it('calibration-service streams progress, answers /health during a run, and reports errors with codes', async () => {
    const server = await startService(0);
    const port = (server.address() as AddressInfo).port;
    try {
      const images = path.join(dir, 'crops');
      const pending = post(port, {
        model: CLASSIFIER,
        images,
        options: {
          shape: [3, 48, 192],
          scale: 1 / 255,
          mean: 0.5,
          std: 0.5,
          cache: path.join(dir, 'svc.cache'),
          overwrite: true,
          tensorrt: '10.3',
        },
      });
      expect(await get(port, '/health')).toBe('ok');
      const events = await pending;
      expect(events.filter((e) => e.event === 'progress').length).toBeGreaterThan(0);
      const done = events.find((e) => e.event === 'done');
      expect(done?.data).toMatchObject({ tensors: 216, images: 64, fromCache: false });
      const failed = await post(port, {
        model: CLASSIFIER,
        images: path.join(dir, 'nope'),
        options: { shape: [3, 48, 192] },
      });
      expect(failed).toEqual([{ event: 'error', data: { code: 'ERR_NO_DATA', message: expect.any(String) } }]);
    } finally {
      await new Promise((r) => server.close(r));
    }
  }, 120000);
});
