/**
 * Files whose content the installer writes itself (a placeholder replaced, a noarch entry point) get
 * exactly the package's mode (setuid and setgid dropped), whatever the umask: the link stage sets a
 * mode again only when the umask took some of it, so both cases are checked.
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { BuiltinInstaller } from '../../src/installer/builtin-installer.js';
import { MemoryLogger } from '../../src/util/logger.js';
import { lockedPackage } from '../conformance/fixture-env.js';
import { buildChannel, cString, LONG_PLACEHOLDER, type BuiltChannel, type PackageSpec } from '../fixtures/channel/index.js';

let work: string;
let channel: BuiltChannel;
beforeAll(async () => {
  work = await fs.mkdtemp(path.join(os.tmpdir(), 'gitenv-rewrite-modes-'));
  channel = await buildChannel(path.join(work, 'channel'), [
    {
      name: 'modes',
      version: '1.0',
      files: {
        'bin/modes-config': { content: '#!/bin/sh\necho @PREFIX@\n', mode: 0o755, prefix: 'text' },
        'bin/modes-readonly': { content: '#!/bin/sh\necho @PREFIX@\n', mode: 0o555, prefix: 'text' },
        'bin/modes-setuid': { content: '#!/bin/sh\necho @PREFIX@\n', mode: 0o4755, prefix: 'text' },
        'lib/libmodes.so': { content: Buffer.concat([Buffer.from('\x7fELF'), cString('@PREFIX@/lib'), Buffer.from('tail')]), mode: 0o644, prefix: 'binary' },
        'share/modes/private.txt': { content: 'prefix=@PREFIX@\n', mode: 0o600, prefix: 'text' },
      },
    },
  ]);
});
afterAll(async () => {
  if (work) await fs.rm(work, { recursive: true, force: true });
});

let count = 0;
/** Installs `from`'s packages under `umask` (the process's when not given); the prefix, renamed into place. */
async function install(from: BuiltChannel, umask?: number): Promise<string> {
  const prefix = path.join(work, `env-${++count}`);
  const staging = `${prefix}.staging`;
  const previous = umask === undefined ? undefined : process.umask(umask);
  try {
    await new BuiltinInstaller().install({
      packages: from.packages.map((p) => lockedPackage(p, pathToFileURL(from.dir).href)),
      prefix,
      stagingDir: staging,
      pkgCache: path.join(work, 'pkgs'),
      logger: new MemoryLogger(),
    });
  } finally {
    if (previous !== undefined) process.umask(previous);
  }
  await fs.rename(staging, prefix);
  return prefix;
}

const modeOf = async (prefix: string, rel: string): Promise<number> => (await fs.stat(path.join(prefix, rel))).mode & 0o7777;

test.each(['077', '022', '000'])('umask %s: rewritten files keep the package mode, without setuid', async (umask) => {
  const prefix = await install(channel, parseInt(umask, 8));
  expect(await modeOf(prefix, 'bin/modes-config')).toBe(0o755);
  expect(await modeOf(prefix, 'bin/modes-readonly')).toBe(0o555);
  expect(await modeOf(prefix, 'bin/modes-setuid')).toBe(0o755);
  expect(await modeOf(prefix, 'lib/libmodes.so')).toBe(0o644);
  expect(await modeOf(prefix, 'share/modes/private.txt')).toBe(0o600);
  expect(await fs.readFile(path.join(prefix, 'bin/modes-config'), 'utf8')).toBe(`#!/bin/sh\necho ${prefix}\n`);
  const lib = await fs.readFile(path.join(prefix, 'lib/libmodes.so'));
  expect(lib.includes(Buffer.from(`${prefix}/lib\0`))).toBe(true);
});

/**
 * Files to rewrite are read into one buffer the install reuses (link.ts readForRewrite), up to 16 MiB;
 * larger ones get their own. Files of growing and shrinking sizes, one over the limit: each comes out
 * exactly as conda's binary replacement makes it, nothing of an earlier, larger file left in it, and
 * its sha256_in_prefix is the hash of what is in the prefix.
 */
test('rewritten files of every size, one after another: exact bytes and hashes', async () => {
  const sizes = [3 << 20, 100, (3 << 20) / 2, (16 << 20) + 5, 4096, 10];
  const blob = (n: number, seed: number): Buffer => {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) b[i] = ((i * 31 + seed) % 250) + 1; // no NUL: the C string ends where the test puts one
    return b;
  };
  const files: NonNullable<PackageSpec['files']> = {};
  sizes.forEach((n, k) => {
    files[`lib/libsize${k}.so`] = { content: Buffer.concat([blob(n, k), cString('@PREFIX@/lib'), blob(7, k)]), prefix: 'binary' };
  });
  const sized = await buildChannel(path.join(work, 'sized-channel'), [{ name: 'sizes', version: '1.0', files }]);
  const prefix = await install(sized);
  const record = JSON.parse(await fs.readFile(path.join(prefix, 'conda-meta', 'sizes-1.0-0.json'), 'utf8')) as {
    paths_data: { paths: { _path: string; sha256_in_prefix?: string; size_in_bytes?: number }[] };
  };
  for (const [k, n] of sizes.entries()) {
    const rel = `lib/libsize${k}.so`;
    const written = await fs.readFile(path.join(prefix, rel));
    const expected = Buffer.concat([blob(n, k), Buffer.from(`${prefix}/lib`), Buffer.alloc(LONG_PLACEHOLDER.length - prefix.length), cString(''), blob(7, k)]);
    expect({ rel, equal: written.equals(expected) }).toEqual({ rel, equal: true });
    const entry = record.paths_data.paths.find((e) => e._path === rel);
    expect(entry).toMatchObject({ sha256_in_prefix: createHash('sha256').update(expected).digest('hex'), size_in_bytes: expected.length });
  }
});
