/** Unit, integration and end-to-end tests (browser tests live in test/browser and run last). */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  // the Vue 2 sub-project has its own toolchain (node_modules, build output, a copy of the plugin)
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/vue2-h5/'],
  modulePathIgnorePatterns: ['<rootDir>/test/vue2-h5/'],
  transform: { '^.+\\.ts$': ['ts-jest', { isolatedModules: true, diagnostics: false }] },
  testTimeout: 60000,
  // e2e tests start child processes and servers; two workers fit the 2-core machine
  maxWorkers: 2,
  setupFiles: ['<rootDir>/test/setup-env.ts'],
};
