import * as fs from 'node:fs';
import * as path from 'node:path';

const root = path.join(__dirname, '..', '..');

function cmakeSources(): string[] {
  const text = fs.readFileSync(path.join(root, 'CMakeLists.txt'), 'utf8');
  const m = /set\(TRTC_SOURCES\s+([^)]*)\)/.exec(text);
  if (!m) throw new Error('TRTC_SOURCES not found in CMakeLists.txt');
  return m[1].split(/\s+/).filter(Boolean);
}

function gypSources(): string[] {
  // binding.gyp is a Python literal with comments; strip the comment lines and parse as JSON.
  const text = fs.readFileSync(path.join(root, 'binding.gyp'), 'utf8').replace(/^\s*#.*$/gm, '');
  return (JSON.parse(text) as { targets: Array<{ sources: string[] }> }).targets[0].sources;
}

describe('build files', () => {
  it('binding.gyp builds exactly the sources CMakeLists.txt builds, in the same order', () => {
    expect(gypSources()).toEqual(cmakeSources());
  });

  it('every listed source exists, and every native source is listed (TensorRT-only files aside)', () => {
    const listed = new Set(cmakeSources());
    for (const file of listed) expect(fs.existsSync(path.join(root, file))).toBe(true);
    const onDisk = fs
      .readdirSync(path.join(root, 'native'))
      .filter((f) => f.endsWith('.cc'))
      .map((f) => `native/${f}`);
    expect(onDisk.filter((f) => !listed.has(f))).toEqual([]);
  });

  it('package.json and the addon agree on the version', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string };
    const header = fs.readFileSync(path.join(root, 'native', 'addon.h'), 'utf8');
    expect(header).toContain(`kADDON_VERSION[] = "${pkg.version}"`);
  });

  it("skips onnxruntime-node's GPU download through package.json's allowScripts (no unknown npm config)", () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as {
      allowScripts?: Record<string, boolean>;
    };
    expect(pkg.allowScripts?.['onnxruntime-node']).toBe(false);
    expect(fs.existsSync(path.join(root, '.npmrc'))).toBe(false);
  });
});
