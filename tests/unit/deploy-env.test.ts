import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { deployEnv, type EnvDeployOptions, type InstallFn } from '../../src/deploy/deploy-env.js';
import { isComplete, makeStagingDir } from '../../src/deploy/layout.js';
import { selectEnv, type EnvState } from '../../src/deploy/selection.js';
import { PackageError } from '../../src/util/errors.js';
import { MemoryLogger } from '../../src/util/logger.js';

// The installer is another module's job (and has its own tests); here a small one writes a file
// per package so the orchestration — staging, marker, rename, links, prune, lock — runs for real.
let installs: string[];
const install: InstallFn = async (selected, staging, prefix) => {
  installs.push(selected.tag);
  if (selected.tag.endsWith('-9')) throw new PackageError('badpkg', 'archive is corrupt');
  await fs.mkdir(path.join(staging, 'bin'), { recursive: true });
  await fs.writeFile(path.join(staging, 'bin', 'tool'), `#!/bin/sh\necho ${prefix}\n`);
  return { env: selected.env, tag: selected.tag, deployedName: selected.deployedName, commit: selected.commit, lockSha256: '0'.repeat(64), engine: 'builtin', gitenvVersion: '0.1.0', packages: 1 };
};

let target: string;
let logger: MemoryLogger;
beforeEach(async () => {
  target = await fs.mkdtemp(path.join(os.tmpdir(), 'gitenv deploy env '));
  logger = new MemoryLogger();
  installs = [];
});
afterEach(async () => {
  await fs.rm(target, { recursive: true, force: true });
});

const options = (over: Partial<EnvDeployOptions> = {}): EnvDeployOptions => ({
  target,
  envLabels: ['*'],
  dryRun: false,
  prune: false,
  keep: 2,
  logger,
  now: () => new Date('2026-01-05T00:00:00Z'),
  install,
  lock: { pollMs: 10 },
  ...over,
});

function state(labels: Record<string, string>, tags: string[]): EnvState {
  return {
    env: 'default',
    labels: new Map(Object.entries(labels)),
    tags: new Map(tags.map((t, i) => [t, { commit: `c${i}`, date: new Date(Date.UTC(2026, 0, i + 1)) }])),
  };
}

const T1 = 'env-default-2026_01_01';
const T2 = 'env-default-2026_01_02';
const BAD = 'env-default-2026_01_03-9';
const dir = () => path.join(target, 'default');
const link = (label: string) => fs.readlink(path.join(dir(), label));

test('deploys labelled tags and latest, links them, and a second run does nothing at all', async () => {
  const out = await deployEnv(selectEnv(state({ current: T1 }, [T1, T2]), ['*']), options());
  expect(out.prefixes.map((p) => [p.deployedName, p.status])).toEqual([
    ['2026_01_01', 'installed'],
    ['2026_01_02', 'installed'],
  ]);
  expect(await link('latest')).toBe('2026_01_02');
  expect(await link('current')).toBe('2026_01_01');
  expect(logger.lines('info')).toContain(`Linking default/latest to ${T2}`);
  expect(await isComplete(path.join(dir(), '2026_01_02'), T2)).toBe(true);

  const before = await snapshot(dir());
  const again = await deployEnv(selectEnv(state({ current: T1 }, [T1, T2]), ['*']), options());
  expect(again.prefixes.map((p) => p.status)).toEqual(['up to date', 'up to date']);
  expect(again.links).toEqual([]);
  expect(installs).toEqual([T1, T2]);
  expect(await snapshot(dir())).toEqual(before);
});

test('a failing install fails only that tag: its labels stay where they were, the staging is gone', async () => {
  await deployEnv(selectEnv(state({}, [T1]), ['*']), options());
  const out = await deployEnv(selectEnv(state({ next: BAD, current: T1 }, [T1, BAD]), ['*']), options());
  expect(out.error).toMatch(/badpkg: archive is corrupt/);
  expect(out.prefixes.find((p) => p.tag === BAD)?.status).toBe('failed');
  expect(await link('latest')).toBe('2026_01_01');
  expect(await link('current')).toBe('2026_01_01');
  await expect(fs.lstat(path.join(dir(), 'next'))).rejects.toThrow();
  expect((await fs.readdir(dir())).filter((n) => !n.startsWith('.gitenv')).sort()).toEqual(['2026_01_01', 'current', 'latest']);
});

test('leftovers of a killed run are removed and the prefix completed', async () => {
  const staging = await makeStagingDir(dir(), '2026_01_01');
  await fs.writeFile(path.join(staging, 'half'), '');
  const out = await deployEnv(selectEnv(state({}, [T1]), ['*']), options());
  expect(out.leftovers).toEqual([staging]);
  expect(await link('latest')).toBe('2026_01_01');
  expect((await fs.readdir(dir())).sort()).toEqual(['2026_01_01', 'latest']);
});

test('a label gone from the repository is unlinked; prune keeps labelled prefixes and the newest `keep`', async () => {
  const tags = ['2026_01_01', '2026_01_02', '2026_01_03', '2026_01_04'].map((d) => `env-default-${d}`);
  await deployEnv(selectEnv(state({ old: tags[0], a: tags[1], b: tags[2] }, tags), ['*']), options());
  const out = await deployEnv(selectEnv(state({ old: tags[0] }, tags), ['*']), options({ prune: true, keep: 1 }));
  expect(out.links.map((c) => [c.label, c.to])).toEqual([
    ['a', undefined],
    ['b', undefined],
  ]);
  expect(out.pruned.map((p) => p.deployedName)).toEqual(['2026_01_02']);
  expect((await fs.readdir(dir())).sort()).toEqual(['2026_01_01', '2026_01_03', '2026_01_04', 'latest', 'old']);
  expect(logger.text()).toMatch(/Pruned default\/2026_01_02, freeing \d+ B/);
});

test('env-labels leaves other labels alone, even ones gone from the repository', async () => {
  await deployEnv(selectEnv(state({ stale: T1 }, [T1, T2]), ['*']), options());
  const out = await deployEnv(selectEnv(state({}, [T1, T2]), ['default/latest']), options({ envLabels: ['default/latest'] }));
  expect(out.links).toEqual([]);
  expect(await link('stale')).toBe('2026_01_01');
});

test('dry-run reports the plan and changes nothing', async () => {
  const out = await deployEnv(selectEnv(state({ current: T1 }, [T1, T2]), ['*']), options({ dryRun: true }));
  expect(out.prefixes.map((p) => p.status)).toEqual(['would install', 'would install']);
  expect(logger.lines('info')).toEqual(expect.arrayContaining([`Would install default/2026_01_01 from ${T1}`, `Would link default/latest to ${T2}`]));
  await expect(fs.access(dir())).rejects.toThrow();
  expect(installs).toEqual([]);
});

test('two deploys at once both finish and leave what one leaves', async () => {
  const sel = selectEnv(state({ current: T1 }, [T1, T2]), ['*']);
  const [a, b] = await Promise.all([deployEnv(sel, options()), deployEnv(sel, options())]);
  expect([a.error, b.error]).toEqual([undefined, undefined]);
  expect(installs.sort()).toEqual([T1, T2]);
  expect((await fs.readdir(dir())).sort()).toEqual(['2026_01_01', '2026_01_02', 'current', 'latest']);
});

async function snapshot(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    const st = await fs.lstat(d);
    out.push(`${path.relative(root, d)} ${st.mtimeMs} ${st.ino}`);
    if (st.isDirectory()) for (const n of (await fs.readdir(d)).sort()) await walk(path.join(d, n));
  };
  await walk(root);
  return out;
}
