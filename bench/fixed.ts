/**
 * The fixed cost of a one-environment resolve (`npx tsx bench/fixed.ts [rounds]`; not a test): where
 * the time goes when the solve itself is trivial (the seed channel, `python 3.*`), against
 * py-rattler solving the same environment from a cold Python process. Rounds are interleaved and
 * medians reported, since the machine may be shared.
 *
 *  - process start (`node -e 0`), bundle load (`gitenv --version` minus that), and the CLI's dry-run
 *    resolve end to end;
 *  - in process, through the resolve phase: repository opened and read, repodata surveyed, solved
 *    (a solver thread started ahead of time, its WASM module compiled), the rest (diff, summary).
 */
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSeedChannel } from '../tests/fixtures/channel/index.js';
import { GitFixture } from '../tests/fixtures/git-repo.js';
import { resolve } from '../src/phases/resolve.js';
import { DEFAULT_CHANNEL_ALIAS } from '../src/phases/settings.js';
import { MemoryLogger } from '../src/util/logger.js';

const ROUNDS = Number(process.argv[2] ?? 5);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CLI = path.join(ROOT, 'dist', 'cli', 'index.js');
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const PY = `
import asyncio, os, sys
import rattler
from rattler import Channel, GenericVirtualPackage, PackageName, Platform, Version
from rattler.package.build_string import BuildString
vps = [GenericVirtualPackage(PackageName("__glibc"), Version("2.28"), BuildString("0"))]
asyncio.run(rattler.solve(sources=[Channel(sys.argv[1])], specs=["python 3.*"], platforms=[Platform("linux-64"), Platform("noarch")], virtual_packages=vps))
sys.stdout.flush()
os._exit(0)
`;

/** A logger that notes when the phase reaches each of its steps. */
class StepLogger extends MemoryLogger {
  readonly marks: Record<string, number> = {};
  constructor(private readonly t0: number) {
    super();
  }
  override debug(message: string): void {
    if (/the solver gets/.test(message)) this.marks.surveyed ??= performance.now() - this.t0;
    if (/: solved \d+ packages/.test(message)) this.marks.solved ??= performance.now() - this.t0;
    super.debug(message);
  }
  override async group<T>(name: string, fn: () => Promise<T>): Promise<T> {
    this.marks.opened ??= performance.now() - this.t0;
    return super.group(name, fn);
  }
}

function timed(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): number {
  const t = performance.now();
  execFileSync(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit'] });
  return performance.now() - t;
}

async function main(): Promise<void> {
  const fx = await GitFixture.create();
  try {
    const channel = await buildSeedChannel(path.join(fx.root, 'chan'));
    await fx.commit('default', { 'env.spec': `channels:\n  - ${channel.url}\nenv:\n  - python 3.*\n` });
    const rows: Record<string, number[]> = {};
    const add = (k: string, v: number): void => void (rows[k] ??= []).push(v);
    for (let round = 0; round < ROUNDS; round++) {
      add('node -e 0', timed(process.execPath, ['-e', '0']));
      add('gitenv --version', timed(process.execPath, [CLI, '--version']));
      add('gitenv resolve --dry-run (CLI, end to end)', timed(process.execPath, [CLI, 'resolve', fx.origin, '--dry-run'], { XDG_CACHE_HOME: path.join(fx.root, `cache${round}`) }));
      add('py-rattler: python start, import, solve', timed('python3', ['-c', PY, channel.url]));
      const t0 = performance.now();
      const logger = new StepLogger(t0);
      await resolve(
        {
          repository: fx.origin,
          envs: [],
          dryRun: true,
          platform: 'linux-64',
          channelAlias: DEFAULT_CHANNEL_ALIAS,
          engine: 'builtin',
          mode: 'push',
          workDir: fx.root,
          cacheDir: path.join(fx.root, `pc${round}`),
        },
        { logger },
      );
      const total = performance.now() - t0;
      const m = logger.marks;
      add('  phase: repository opened and read', m.opened);
      add('  phase: repodata surveyed and pruned', m.surveyed - m.opened);
      add('  phase: solved (thread started ahead)', m.solved - m.surveyed);
      add('  phase: the rest (diff, summary, threads closed)', total - m.solved);
      add('  phase: total (in process, bundle already loaded)', total);
    }
    console.log(`one-environment resolve, ${ROUNDS} interleaved rounds, medians:`);
    for (const [k, v] of Object.entries(rows)) console.log(`  ${k.padEnd(52)} ${median(v).toFixed(0).padStart(6)} ms`);
    const cli = median(rows['gitenv resolve --dry-run (CLI, end to end)']);
    const py = median(rows['py-rattler: python start, import, solve']);
    console.log(`  ratio gitenv CLI / py-rattler: ${(cli / py).toFixed(2)}x`);
  } finally {
    await fx.cleanup();
  }
}

await main();
