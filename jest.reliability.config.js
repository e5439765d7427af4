import base from './jest.config.js';
/** @type {import('jest').Config} */
export default {
  ...base,
  testMatch: ['<rootDir>/tests/reliability/**/*.test.ts'],
  testTimeout: 600000,
  maxWorkers: 1,
};
