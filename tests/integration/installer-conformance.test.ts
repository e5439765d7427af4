/**
 * Conformance with py-rattler, the conda org's reference installer: one fixture environment installed
 * by both, compared path by path (list, type, mode, soft link target, hard link or copy, bytes after
 * substituting each prefix's own path) and record by record (conda-meta name, version, build, files,
 * sha256). Every known difference is applied below as a named normalisation and explained in
 * docs/installer-differences.md.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { BuiltinInstaller } from '../../src/installer/builtin-installer.js';
import { MemoryLogger } from '../../src/util/logger.js';
import { buildFixtureEnv, type FixtureEnv } from '../conformance/fixture-env.js';
import { hasPyRattler, rattlerInstall, run, snapshotPrefix, type PathFacts } from '../conformance/prefix-snapshot.js';
import { describeWithTool } from '../fixtures/tools.js';

const describeWithRattler = describeWithTool('py-rattler', await hasPyRattler(), 'bash .ci/setup-extra installs it: pip install py-rattler, pinned');

/** Differences explained in docs/installer-differences.md. */
const KNOWN = {
  /** gitenv byte-compiles noarch python modules, as conda does; rattler does not. */
  isPyc: (rel: string) => rel.includes('/__pycache__/') && rel.endsWith('.pyc'),
  /** rattler tags its prefix as a cache directory. */
  rattlerOnly: new Set(['CACHEDIR.TAG']),
};

let work: string;
let env: FixtureEnv;
let ours: Map<string, PathFacts>;
let theirs: Map<string, PathFacts>;
let oursPrefix: string;
let theirsPrefix: string;

describeWithRattler('gitenv installs what py-rattler installs', () => {
  beforeAll(async () => {
    work = await fs.mkdtemp(path.join(os.tmpdir(), 'gitenv-conformance-'));
    env = (await buildFixtureEnv(work)) as FixtureEnv;
    // Equal lengths, so binary files padded with NULs compare byte for byte after substitution.
    oursPrefix = path.join(work, 'prefix A');
    theirsPrefix = path.join(work, 'prefix B');
    const staging = path.join(work, '.prefix A.staging');
    const label = (who: string) => (err: Error) => {
      throw new Error(`${who} install failed: ${err.message}`, { cause: err });
    };
    await new BuiltinInstaller()
      .install({ packages: env.packages, prefix: oursPrefix, stagingDir: staging, pkgCache: path.join(work, 'gitenv-cache'), logger: new MemoryLogger() })
      .catch(label('gitenv'));
    await fs.rename(staging, oursPrefix);
    await rattlerInstall(env.packages, theirsPrefix, path.join(work, 'rattler-cache'), work).catch(label('py-rattler'));
    ours = await snapshotPrefix(oursPrefix, (rel) => rel === 'conda-meta');
    theirs = await snapshotPrefix(theirsPrefix, (rel) => rel === 'conda-meta' || KNOWN.rattlerOnly.has(rel));
  });

  afterAll(async () => {
    if (work) await fs.rm(work, { recursive: true, force: true });
  });

  test('the same paths', () => {
    const oursList = [...ours.keys()].filter((p) => !KNOWN.isPyc(p) && !p.endsWith('/__pycache__')).sort();
    expect(oursList).toEqual([...theirs.keys()].sort());
    // The known difference really is one: gitenv has the .pyc files.
    expect([...ours.keys()].some(KNOWN.isPyc)).toBe(true);
  });

  test('the same types, modes, soft link targets and bytes', () => {
    for (const [rel, t] of theirs) {
      const o = ours.get(rel) as PathFacts;
      const entryPoint = rel === 'bin/greet';
      expect({ rel, type: o.type, target: o.target }).toEqual({ rel, type: t.type, target: t.target });
      // Entry points: conda's mode (0o755) and indentation (4 spaces), rattler's 0o775 and a tab.
      expect({ rel, mode: o.mode }).toEqual({ rel, mode: entryPoint ? 0o755 : t.mode });
      if (t.content) {
        const theirsText = entryPoint ? Buffer.from(t.content.toString().replace(/\t/g, '    ')) : t.content;
        expect({ rel, content: o.content?.toString('latin1') }).toEqual({ rel, content: theirsText.toString('latin1') });
      }
    }
  });

  test('the same files hard-linked from the cache, the same copied', () => {
    for (const [rel, t] of theirs) {
      if (t.type !== 'file') continue;
      expect({ rel, linked: (ours.get(rel) as PathFacts).nlink > 1 }).toEqual({ rel, linked: t.nlink > 1 });
    }
  });

  test('conda-meta records agree on name, version, build, files and sha256', async () => {
    const read = async (prefix: string) => {
      const dir = path.join(prefix, 'conda-meta');
      const names = (await fs.readdir(dir)).filter((n) => n.endsWith('.json')).sort();
      return Promise.all(
        names.map(async (n) => {
          const r = JSON.parse(await fs.readFile(path.join(dir, n), 'utf8')) as Record<string, unknown>;
          const files = (r.files as string[]).filter((f) => !KNOWN.isPyc(f)).sort();
          return { file: n, name: r.name, version: r.version, build: r.build, sha256: r.sha256, md5: r.md5, size: r.size, files };
        }),
      );
    };
    const mine = await read(oursPrefix);
    expect(mine).toHaveLength(env.packages.length);
    expect(mine).toEqual(await read(theirsPrefix));
  });

  test('both environments run their entry point and ran the post-link script', async () => {
    for (const prefix of [oursPrefix, theirsPrefix]) {
      expect(await fs.readFile(path.join(prefix, 'share/postie/post-link-ran.txt'), 'utf8')).toBe('postie 2.0 3\n');
      expect(await run(path.join(prefix, 'bin', 'greet'), [])).toBe('hello from greet\n');
    }
  });
});
