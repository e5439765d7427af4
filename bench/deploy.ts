/**
 * Deploy benchmarks (`npx tsx bench/deploy.ts`):
 *  1. a no-op deploy of 20 environments × 3 labels (current, next, latest) — goal under 2 s; the same
 *     with modulefiles on (Lmod) — goal at most 1.2× without them, rounds interleaved;
 *  2. a new tag differing from the deployed one by a single package, package cache warm — goal at
 *     most 1.2× the time of `cp -al` of the previous prefix, measured in the same run.
 * Real archives (built by the test channel builder), a real bare repository (written with one
 * `git fast-import`), the builtin installer, the deploy phase as the CLI runs it.
 */
import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { formatLock } from '../src/manifest/lock.js';
import { formatManifest } from '../src/manifest/manifest.js';
import { deploy } from '../src/phases/deploy.js';
import type { DeploySettings } from '../src/phases/settings.js';
import { MemoryLogger } from '../src/util/logger.js';
import { buildChannel, type BuiltChannel, type BuiltPackage, type PackageSpec } from '../tests/fixtures/channel/index.js';
import { recordsAt } from '../tests/integration/deploy-support.js';

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

/**
 * Keeps when each line was logged: the install step is timed between its own lines, and with
 * BENCH_VERBOSE every line is shown with the milliseconds since the logger was made.
 */
class TimedLogger extends MemoryLogger {
  private readonly t0 = performance.now();
  private readonly at: { message: string; ms: number }[] = [];
  private note(message: string): string {
    const ms = performance.now() - this.t0;
    this.at.push({ message, ms });
    return process.env.BENCH_VERBOSE ? `${ms.toFixed(1).padStart(7)} ms  ${message}` : message;
  }
  override info(message: string): void {
    super.info(this.note(message));
  }
  override debug(message: string): void {
    super.debug(this.note(message));
  }
  /** Milliseconds from the first line matching `from` to the next matching `to`. */
  between(from: RegExp, to: RegExp): number | undefined {
    const start = this.at.find((l) => from.test(l.message));
    const end = start && this.at.find((l) => l.ms >= start.ms && to.test(l.message));
    return start && end ? end.ms - start.ms : undefined;
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function time<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const t = performance.now();
  const r = await fn();
  return [performance.now() - t, r];
}

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
    const run = async (over: Partial<DeploySettings> = {}) => {
      const logger = new TimedLogger();
      const result = await deploy(settings(over), { logger });
      if (result.failed.length > 0) throw new Error(`bench deploy failed: ${JSON.stringify(result.failed)}`);
      return logger;
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
    for (let i = 0; i < 5; i++) noopRuns.push((await time(() => run()))[0]);
    const noop = { envs: ENVS, labels: 3, medianMs: median(noopRuns), maxMs: Math.max(...noopRuns), runs: noopRuns.length };
    log(`no-op deploy, ${ENVS} environments × 3 labels: median ${noop.medianMs.toFixed(0)} ms, max ${noop.maxMs.toFixed(0)} ms (goal < 2000 ms)`);

    // 1b. The same no-op with modulefiles on: interleaved rounds, the modulefiles written beforehand.
    const moduleSettings = { modulefiles: path.join(root, 'modulefiles') };
    await run(moduleSettings);
    const without: number[] = [];
    const withModules: number[] = [];
    for (let i = 0; i < 7; i++) {
      without.push((await time(() => run()))[0]);
      withModules.push((await time(() => run(moduleSettings)))[0]);
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
      const [ms, logger] = await time(() => run({ envs: ['big'] }));
      phases.push(ms);
      // From `Installing` to `Installed` (the line itself rounds to 10 ms).
      const installMs = logger.between(/^Installing big\/2026_01_02 /, /^Installed big\/2026_01_02: /);
      if (installMs === undefined) throw new Error(`no install lines in:\n${logger.text()}`);
      installs.push(installMs);
      if (process.env.BENCH_VERBOSE) log(logger.text());
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
    await fs.rm(root, { recursive: true, force: true });
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const figures = await benchDeploy();
  console.log(JSON.stringify(figures, null, 2));
}
