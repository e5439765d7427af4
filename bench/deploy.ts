/**
 * Deploy benchmarks (`npx tsx bench/deploy.ts`):
 *  1. a no-op deploy of 20 environments × 3 labels (current, next, latest) — goal under 2 s; the same
 *     with modulefiles on (Lmod) — goal at most 1.2× without them, rounds interleaved;
 *  2. a new tag differing from the deployed one by a single package, package cache warm — goal at
 *     most 1.2× the time of `cp -al` of the previous prefix, measured in the same run.
 * Real archives (built by the test channel builder), a real bare repository (written with one
 * `git fast-import`), the builtin installer, the deploy phase as the actions run it: from an ncc
 * bundle (bench/deploy-child.ts), each deploy in a process of its own, timed inside it.
 * BENCH_VERBOSE=1 shows each new-tag deploy's log with times (GITENV_DEBUG=1 adds every step).
 */
import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { formatLock } from '../src/manifest/lock.js';
import { formatManifest } from '../src/manifest/manifest.js';
import type { DeploySettings } from '../src/phases/settings.js';
import { buildChannel, type BuiltChannel, type BuiltPackage, type PackageSpec } from '../tests/fixtures/channel/index.js';
import { recordsAt } from '../tests/integration/deploy-support.js';
import { bundleChild, runChild } from './bundle-child.js';
import type { DeployChildResult } from './deploy-child.js';

export interface DeployBenchFigures {
  noop: { envs: number; labels: number; medianMs: number; maxMs: number; runs: number };
  modulefiles: { withoutMedianMs: number; withMedianMs: number; ratio: number; runs: number };
  newTag: {
    files: number;
    /** The install step alone (staging → marker → rename), median. */
    installMedianMs: number;
    /** The whole deploy phase (git fetch and snapshot included), median. */
    phaseMedianMs: number;
    cpAlMedianMs: number;
    installRatio: number;
    phaseRatio: number;
  };
}

interface ImportCommit {
  branch: string;
  files: Record<string, string>;
  /** Seconds since the epoch. */
  time: number;
  tag?: string;
}

/** Writes commits (each on top of its branch) and annotated tags into `gitDir` with one fast-import. */
function fastImport(gitDir: string, commits: ImportCommit[]): void {
  const parts: string[] = [];
  const data = (s: string) => `data ${Buffer.byteLength(s)}\n${s}\n`;
  const seen = new Set<string>();
  commits.forEach((c, i) => {
    const mark = i + 1;
    parts.push(`commit refs/heads/${c.branch}\nmark :${mark}\ncommitter Bench <bench@example.org> ${c.time} +0000\n${data(`Update ${c.branch}`)}`);
    if (!seen.has(c.branch)) {
      const exists = revParseSafe(gitDir, `refs/heads/${c.branch}`);
      if (exists) parts.push(`from ${exists}\n`);
    }
    seen.add(c.branch);
    for (const [file, content] of Object.entries(c.files)) parts.push(`M 100644 inline ${file}\n${data(content)}`);
    parts.push('\n');
    if (c.tag) parts.push(`tag ${c.tag}\nfrom :${mark}\ntagger Bench <bench@example.org> ${c.time} +0000\n${data('Automatic tag.')}`);
  });
  execFileSync('git', ['--git-dir', gitDir, 'fast-import', '--quiet'], { input: parts.join('') });
}

function revParseSafe(gitDir: string, ref: string): string {
  try {
    return execFileSync('git', ['--git-dir', gitDir, 'rev-parse', '--verify', '--quiet', ref], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return '';
  }
}

const manifestFiles = (env: string, channel: BuiltChannel, pkgs: BuiltPackage[]) => {
  const records = recordsAt(channel.url, pkgs);
  return {
    'env.spec': `channels:\n  - ${channel.url}\nenv:\n${pkgs.map((p) => `  - ${p.record.name}\n`).join('')}`,
    'env.lock': formatLock(records, { platform: 'linux-64', env }),
    'env.manifest': formatManifest(records),
  };
};

function bigPackage(name: string, files: number): PackageSpec {
  const content: Record<string, string> = {};
  for (let i = 0; i < files; i++) content[`lib/${name}/d${i % 40}/f${i}.txt`] = `${name} file ${i}\n`.repeat(20);
  return { name, version: '1.0', files: content };
}

const tool = (version: string): PackageSpec => ({
  name: 'tool',
  version,
  files: { 'bin/tool': { content: `#!/bin/sh\necho tool ${version}\n`, mode: 0o755 } },
});

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export async function benchDeploy(log: (line: string) => void = console.log): Promise<DeployBenchFigures> {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'gitenv bench deploy '));
  try {
    const channel = await buildChannel(path.join(root, 'channel'), [tool('1.0'), tool('1.1'), bigPackage('biga', 2500), bigPackage('bigb', 2500)]);
    const pkg = (dist: string) => channel.packages.find((p) => p.dist === dist) as BuiltPackage;
    const origin = path.join(root, 'origin.git');
    execFileSync('git', ['init', '--bare', '--quiet', origin]);
    const target = path.join(root, 'target');
    const settings = (over: Partial<DeploySettings> = {}): DeploySettings => ({
      repository: origin,
      envs: [],
      dryRun: false,
      target,
      envLabels: ['*'],
      engine: 'builtin',
      prune: false,
      keep: 2,
      workDir: path.join(root, 'work'),
      ...over,
    });
    const bundle = await bundleChild('deploy-child.ts', path.join(root, 'child'));
    /** One deploy in a process of its own; its phase time (and install step) as it measured them. */
    const run = async (over: Partial<DeploySettings> = {}): Promise<DeployChildResult> => {
      const { result } = await runChild<DeployChildResult>(bundle, settings(over), root, 'deploy');
      if (result.failed.length > 0) throw new Error(`bench deploy failed: ${JSON.stringify(result.failed)}\n${result.log ?? ''}`);
      return result;
    };

    // 1. No-op: 20 environments, two tags each, labels current and next, plus latest.
    const ENVS = 20;
    const commits: ImportCommit[] = [];
    const t0 = Date.UTC(2026, 0, 1) / 1000;
    for (let e = 0; e < ENVS; e++) {
      const env = `env${String(e).padStart(2, '0')}`;
      const t1 = `env-${env}-2026_01_01`;
      const t2 = `env-${env}-2026_01_02`;
      commits.push({ branch: `manifest/${env}`, files: manifestFiles(env, channel, [pkg('tool-1.0-0')]), time: t0, tag: t1 });
      commits.push({ branch: `manifest/${env}`, files: manifestFiles(env, channel, [pkg('tool-1.1-0')]), time: t0 + 86400, tag: t2 });
      commits.push({
        branch: env,
        files: { 'env.spec': manifestFiles(env, channel, [])['env.spec'], 'labels/current.txt': `${t1}\n`, 'labels/next.txt': `${t2}\n` },
        time: t0,
      });
    }
    fastImport(origin, commits);
    await run();
    const noopRuns: number[] = [];
    for (let i = 0; i < 5; i++) noopRuns.push((await run()).phaseMs);
    const noop = { envs: ENVS, labels: 3, medianMs: median(noopRuns), maxMs: Math.max(...noopRuns), runs: noopRuns.length };
    log(`no-op deploy, ${ENVS} environments × 3 labels: median ${noop.medianMs.toFixed(0)} ms, max ${noop.maxMs.toFixed(0)} ms (goal < 2000 ms)`);

    // 1b. The same no-op with modulefiles on: interleaved rounds, the modulefiles written beforehand.
    const moduleSettings = { modulefiles: path.join(root, 'modulefiles') };
    await run(moduleSettings);
    const without: number[] = [];
    const withModules: number[] = [];
    for (let i = 0; i < 7; i++) {
      without.push((await run()).phaseMs);
      withModules.push((await run(moduleSettings)).phaseMs);
    }
    const modulefiles = { withoutMedianMs: median(without), withMedianMs: median(withModules), ratio: median(withModules) / median(without), runs: without.length };
    log(
      `no-op deploy with modulefiles: median ${modulefiles.withMedianMs.toFixed(0)} ms against ${modulefiles.withoutMedianMs.toFixed(0)} ms ` +
        `without → ${modulefiles.ratio.toFixed(2)}× (goal ≤ 1.2×)`,
    );

    // 2. A new tag that differs by one package, the cache already holding it.
    const bigOld = [pkg('biga-1.0-0'), pkg('bigb-1.0-0'), pkg('tool-1.0-0')];
    const bigNew = [pkg('biga-1.0-0'), pkg('bigb-1.0-0'), pkg('tool-1.1-0')];
    fastImport(origin, [
      { branch: 'manifest/big', files: manifestFiles('big', channel, bigOld), time: t0, tag: 'env-big-2026_01_01' },
      { branch: 'big', files: { 'env.spec': manifestFiles('big', channel, [])['env.spec'] }, time: t0 },
    ]);
    await run({ envs: ['big'] });
    fastImport(origin, [{ branch: 'manifest/big', files: manifestFiles('big', channel, bigNew), time: t0 + 86400, tag: 'env-big-2026_01_02' }]);
    const prev = path.join(target, 'big', '2026_01_01');
    const next = path.join(target, 'big', '2026_01_02');
    const files = Number(execFileSync('sh', ['-c', 'find "$1" -type f | wc -l', 'sh', prev], { encoding: 'utf8' }).trim());
    const installs: number[] = [];
    const phases: number[] = [];
    const copies: number[] = [];
    for (let i = 0; i < 3; i++) {
      await fs.rm(next, { recursive: true, force: true });
      const deployed = await run({ envs: ['big'] });
      phases.push(deployed.phaseMs);
      if (deployed.installMs === undefined) throw new Error(`no install lines in:\n${deployed.log ?? '(BENCH_VERBOSE=1 shows the log)'}`);
      installs.push(deployed.installMs);
      if (deployed.log) log(deployed.log);
      const copy = path.join(root, `cp-al-${i}`);
      const t = performance.now();
      execFileSync('cp', ['-al', prev, copy]);
      copies.push(performance.now() - t);
    }
    const cpAlMedianMs = median(copies);
    const newTag = {
      files,
      installMedianMs: median(installs),
      phaseMedianMs: median(phases),
      cpAlMedianMs,
      installRatio: median(installs) / cpAlMedianMs,
      phaseRatio: median(phases) / cpAlMedianMs,
    };
    log(
      `new tag, one package differs, warm cache, ${files} files: install ${newTag.installMedianMs.toFixed(0)} ms, ` +
        `whole deploy ${newTag.phaseMedianMs.toFixed(0)} ms, cp -al ${cpAlMedianMs.toFixed(0)} ms → ` +
        `${newTag.installRatio.toFixed(2)}× (install) / ${newTag.phaseRatio.toFixed(2)}× (whole deploy) (goal ≤ 1.2×)`,
    );
    return { noop, modulefiles, newTag };
  } finally {
    if (process.env.BENCH_KEEP) console.error(`kept ${root}`);
    else await fs.rm(root, { recursive: true, force: true });
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const figures = await benchDeploy();
  console.log(JSON.stringify(figures, null, 2));
}
