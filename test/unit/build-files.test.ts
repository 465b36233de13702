import * as fs from 'node:fs';
import * as path from 'node:path';

const root = path.join(__dirname, '..', '..');

/** A `set(NAME ...)` source list of CMakeLists.txt. */
function cmakeList(name: string): string[] {
  const text = fs.readFileSync(path.join(root, 'CMakeLists.txt'), 'utf8');
  const m = new RegExp(`set\\(${name}\\s+([^)]*)\\)`).exec(text);
  if (!m) throw new Error(`${name} not found in CMakeLists.txt`);
  return m[1].split(/\s+/).filter(Boolean);
}

interface GypTarget {
  sources: string[];
  conditions: Array<[string, { sources?: string[] }, { sources?: string[] }?]>;
}

function gypTarget(): GypTarget {
  // binding.gyp is a Python literal with comments; strip the comment lines and parse as JSON.
  const text = fs.readFileSync(path.join(root, 'binding.gyp'), 'utf8').replace(/^\s*#.*$/gm, '');
  return (JSON.parse(text) as { targets: GypTarget[] }).targets[0];
}

/** The sources binding.gyp adds for the test build (the `test_hooks==1` condition). */
function gypTestHookSources(): string[] {
  const condition = gypTarget().conditions.find(([when]) => when === 'test_hooks==1');
  if (!condition) throw new Error('no test_hooks==1 condition in binding.gyp');
  return condition[1].sources ?? [];
}

/** Every .cc file under native/, as `native/<part>/<file>`, the core tests' own folder aside. */
function nativeSources(dir = path.join(root, 'native')): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return e.name === 'tests' ? [] : nativeSources(p);
    return e.name.endsWith('.cc') ? [path.relative(root, p).split(path.sep).join('/')] : [];
  });
}

describe('build files', () => {
  it('binding.gyp builds exactly the sources CMakeLists.txt builds, in the same order', () => {
    expect(gypTarget().sources).toEqual(cmakeList('TRTC_SOURCES'));
  });

  it('binding.gyp adds exactly the test-hook sources CMakeLists.txt adds for the test build', () => {
    expect(gypTestHookSources()).toEqual(cmakeList('TRTC_TEST_HOOK_SOURCES'));
    expect(cmakeList('TRTC_TEST_HOOK_SOURCES').every((f) => f.startsWith('native/testing/'))).toBe(true);
  });

  it('the release sources hold no test code: native/testing/ is only in the test-hook list', () => {
    expect(cmakeList('TRTC_SOURCES').filter((f) => f.startsWith('native/testing/'))).toEqual([]);
  });

  it('every listed source exists, and every native source is listed (TensorRT-only files aside)', () => {
    const listed = new Set([
      ...cmakeList('TRTC_SOURCES'),
      ...cmakeList('TRTC_TEST_HOOK_SOURCES'),
      ...cmakeList('TRTC_TENSORRT_SOURCES'),
    ]);
    for (const file of listed) expect(fs.existsSync(path.join(root, file))).toBe(true);
    expect(nativeSources().filter((f) => !listed.has(f))).toEqual([]);
  });

  it('the C++ core tests build every test file in native/tests (a file missing from TEST_SOURCES never runs)', () => {
    const text = fs.readFileSync(path.join(root, 'native', 'tests', 'CMakeLists.txt'), 'utf8');
    const m = /set\(TEST_SOURCES\s+([^)]*)\)/.exec(text);
    if (!m) throw new Error('TEST_SOURCES not found in native/tests/CMakeLists.txt');
    const listed = m[1].split(/\s+/).filter(Boolean).sort();
    const onDisk = fs
      .readdirSync(path.join(root, 'native', 'tests'))
      .filter((f) => f.endsWith('.cc'))
      .sort();
    expect(listed).toEqual(onDisk);
    expect(listed).toContain('histogram_test.cc');
  });

  it('package.json and the addon agree on the version', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string };
    const header = fs.readFileSync(path.join(root, 'native', 'bridge', 'addon.h'), 'utf8');
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
