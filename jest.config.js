// Jest runs in its ESM mode (node --experimental-vm-modules): the @actions/* packages are ESM-only.
// ts-jest only transpiles (isolatedModules); `npm run lint` does the type checking.
/** @type {import('jest').Config} */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: { '^.+\\.ts$': ['ts-jest', { useESM: true }] },
  roots: ['<rootDir>/tests'],
  testMatch: ['<rootDir>/tests/unit/**/*.test.ts', '<rootDir>/tests/integration/**/*.test.ts'],
  testTimeout: 120000,
  maxWorkers: 2,
};
