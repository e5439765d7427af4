/** When a package cache entry counts as readable by anyone (package-cache.ts readableByAnyone). */
import { readableByAnyone } from '../../src/installer/package-cache.js';

const digests = (...modes: number[]) => new Map(modes.map((mode, i) => [`f${i}`, { sha256: '', size: 0, mode }]));

test.each([
  ['the usual modes under umask 022', [0o644, 0o755, 0o444, 0o555], 0o022, true],
  ['no files at all (a metapackage)', [], 0o022, true],
  ['a private file', [0o644, 0o600], 0o022, false],
  ['an owner-only program', [0o700], 0o022, false],
  ['a program others may not run', [0o754], 0o022, false],
  ['a file others may not read', [0o640], 0o022, false],
  ['directories made under umask 027', [0o644], 0o027, false],
  ['directories made under umask 077', [0o644], 0o077, false],
  ['umask 002 (group write) takes no read or search bit', [0o644], 0o002, true],
] as const)('%s: %s', (_what, modes, umask, expected) => {
  expect(readableByAnyone(digests(...modes), umask)).toBe(expected);
});
