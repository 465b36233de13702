'use strict';
/**
 * Jest runs TypeScript through ts-jest, in two projects by the addon build they load:
 *   release     every suite but those below: the release addon (build/Release), as users get it;
 *   test-build  test/native and test/gpu, which drive the test build of the addon (its test builders and
 *               hooks): build-test/Release, or the addon TRT_CALIBRATOR_ADDON names (the node-gyp and ASan passes
 *               of scripts/test.js). test/gpu skips itself without a CUDA device.
 * test/native/release-build.test.ts belongs to `release`: it checks that the release addon has no test code.
 * Run one project with `npx jest --selectProjects test-build`.
 */
const common = {
  testEnvironment: 'node',
  testPathIgnorePatterns: ['/node_modules/', '/dist/', '/build/'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.json', diagnostics: { warnOnly: false } }] },
};
const RELEASE_SUITES = ['<rootDir>/test/native/release-build.test.ts'];

module.exports = {
  testTimeout: 60000,
  projects: [
    {
      ...common,
      displayName: 'release',
      roots: ['<rootDir>/test'],
      testMatch: ['**/*.test.ts'],
      testPathIgnorePatterns: [
        ...common.testPathIgnorePatterns,
        '<rootDir>/test/native/(?!release-build\\.test\\.ts$)',
        '<rootDir>/test/gpu/',
      ],
    },
    {
      ...common,
      displayName: 'test-build',
      roots: ['<rootDir>/test/native', '<rootDir>/test/gpu'],
      testMatch: ['**/*.test.ts'],
      testPathIgnorePatterns: [...common.testPathIgnorePatterns, ...RELEASE_SUITES],
      setupFiles: ['<rootDir>/test/helpers/test-build.js'],
    },
  ],
};
