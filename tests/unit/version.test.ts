import { readFileSync } from 'node:fs';
import { VERSION } from '../../src/version.js';

test('VERSION equals package.json version', () => {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  expect(VERSION).toBe(pkg.version);
});
