/**
 * @jest-environment ./test/helpers/ort-environment.js
 *
 * The samples that need no GPU, run as a user would call them (their exported main functions). The HTTP service
 * sample runs compiled, as a process of its own: test/e2e/calibration-service.test.ts.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { main as calibrateFolder } from '../../samples/calibrate-folder';
import { main as twoInput } from '../../samples/two-input';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trtc-samples-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

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
});
