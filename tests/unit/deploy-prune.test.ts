import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import yaml from 'js-yaml';
import { applyPrune, choosePrunable, DEFAULT_KEEP, formatBytes, freedBytes, planPrune } from '../../src/deploy/prune.js';

test('choosePrunable keeps every protected prefix and the newest `keep` others', () => {
  const deployed = ['2026_01_01', '2026_01_02', '2026_01_02-1', '2026_01_03', '2026_01_04'];
  const labelled = new Set(['2026_01_01', '2026_01_04']);
  expect(choosePrunable(deployed, labelled, 2)).toEqual(['2026_01_02']);
  expect(choosePrunable(deployed, labelled, 0)).toEqual(['2026_01_02', '2026_01_02-1', '2026_01_03']);
  expect(choosePrunable(deployed, labelled, 5)).toEqual([]);
  expect(choosePrunable(deployed, new Set(deployed), 0)).toEqual([]);
});

describe('on disk', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'gitenv prune '));
  });
  afterEach(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  test('freed bytes count files with one link only', async () => {
    await fs.mkdir(path.join(dir, 'p', 'lib'), { recursive: true });
    await fs.writeFile(path.join(dir, 'p', 'lib', 'own'), Buffer.alloc(100));
    await fs.writeFile(path.join(dir, 'cached'), Buffer.alloc(1000));
    await fs.link(path.join(dir, 'cached'), path.join(dir, 'p', 'lib', 'shared'));
    expect(await freedBytes(path.join(dir, 'p'))).toBe(100);
  });

  test('planPrune and applyPrune remove unlabelled old prefixes, re-checking protection', async () => {
    for (const n of ['2026_01_01', '2026_01_02', '2026_01_03', '2026_01_04']) {
      await fs.mkdir(path.join(dir, n));
      await fs.writeFile(path.join(dir, n, 'f'), Buffer.alloc(10));
    }
    const plan = await planPrune(dir, new Set(['2026_01_04']), 1);
    expect(plan.map((c) => c.deployedName)).toEqual(['2026_01_01', '2026_01_02']);
    expect(plan.every((c) => c.bytes === 10)).toBe(true);
    const removed = await applyPrune(plan, async (n) => n === '2026_01_02');
    expect(removed.map((c) => c.deployedName)).toEqual(['2026_01_01']);
    expect((await fs.readdir(dir)).sort()).toEqual(['2026_01_02', '2026_01_03', '2026_01_04']);
  });
});

test('formatBytes', () => {
  expect(formatBytes(999)).toBe('999 B');
  expect(formatBytes(1_500_000)).toBe('1.5 MB');
});

test('the default of keep is DEFAULT_KEEP in both action.yml files', async () => {
  for (const file of ['action.yml', 'actions/deploy/action.yml']) {
    const action = yaml.load(await fs.readFile(file, 'utf8')) as { inputs: Record<string, { default?: string }> };
    expect(action.inputs.keep.default).toBe(String(DEFAULT_KEEP));
  }
});
