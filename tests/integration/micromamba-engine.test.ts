/**
 * The micromamba engines against a stand-in micromamba (tests/fixtures/micromamba) that records
 * the arguments and environment it gets and answers with recorded 2.x-shaped JSON.
 */
import { existsSync, readFileSync } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import type { LockedPackage, PackageRecord } from '../../src/conda/types.js';
import { MicromambaInstaller, MicromambaSolver } from '../../src/engines/micromamba.js';
import type { SolveRequest } from '../../src/engines/types.js';
import { virtualPackages } from '../../src/conda/virtual-packages.js';
import { CommandError, ConfigurationError, PackageError } from '../../src/util/errors.js';
import { MemoryLogger } from '../../src/util/logger.js';

const fixture = (name: string): string => new URL(`../fixtures/micromamba/${name}`, import.meta.url).pathname;
const EXPECTED = JSON.parse(readFileSync(fixture('expected-records.json'), 'utf8')) as PackageRecord[];
const CHANNELS = ['https://conda.anaconda.org/conda-forge', 'https://repo.example.com/private'];

interface Call {
  argv: string[];
  env: Record<string, string>;
  auth?: Record<string, { type: string; user: string; password: string }>;
  authMode?: string;
}

let root: string;
let exe: string;
let work: string;
let recordFile: string;

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'gitenv mm engine '));
  const bin = path.join(root, 'stand in bin');
  await mkdir(bin);
  for (const f of ['micromamba', 'standin.mjs']) await copyFile(fixture(f), path.join(bin, f));
  exe = path.join(bin, 'micromamba');
  await chmod(exe, 0o755);
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

beforeEach(async () => {
  work = await mkdtemp(path.join(root, 'work dir '));
  recordFile = path.join(work, 'calls.jsonl');
});

const calls = (): Call[] =>
  existsSync(recordFile)
    ? readFileSync(recordFile, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Call)
    : [];

/** The environment the engine is given: the stand-in's controls plus an inherited override to be replaced. */
const env = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({
  PATH: process.env.PATH,
  HOME: process.env.HOME,
  GITENV_STANDIN_RECORD: recordFile,
  GITENV_STANDIN_ANSWER: fixture('dry-run-linux-64.json'),
  CONDA_OVERRIDE_GLIBC: '9.9',
  ...extra,
});

const request = (logger: MemoryLogger): SolveRequest => ({
  specs: ['zlib 1.3.*', 'tzdata'],
  channels: CHANNELS,
  platform: 'linux-64',
  virtualPackages: virtualPackages('linux-64', { CONDA_OVERRIDE_GLIBC: '2.17' }),
  env: 'science',
  logger,
});

describe('MicromambaSolver', () => {
  test('runs create --dry-run --json with the channels in order and returns the expected records', async () => {
    const logger = new MemoryLogger();
    const solver = new MicromambaSolver({ micromamba: exe, logger, env: env(), workDir: work });
    expect(await solver.solve(request(logger))).toEqual(EXPECTED);

    const [call] = calls();
    const prefix = call.argv[call.argv.indexOf('--prefix') + 1];
    expect(prefix.startsWith(path.join(work, 'gitenv-micromamba-'))).toBe(true);
    expect(call.argv).toEqual([
      'create',
      '--dry-run',
      '--json',
      '--yes',
      '--prefix',
      prefix,
      '--override-channels',
      '--strict-channel-priority',
      '--channel',
      CHANNELS[0],
      '--channel',
      CHANNELS[1],
      '--platform',
      'linux-64',
      'zlib 1.3.*',
      'tzdata',
    ]);
    expect(call.env).toMatchObject({
      CONDA_OVERRIDE_GLIBC: '2.17',
      CONDA_OVERRIDE_CUDA: '',
      CONDA_OVERRIDE_LINUX: '5.14',
      CONDA_OVERRIDE_ARCHSPEC: 'x86_64',
    });
    expect(call.env.HOME).toBe(process.env.HOME);
    expect(await readdir(work)).toEqual(['calls.jsonl']);
  });

  test('an unsolvable request is a CommandError with the solver problems and stderr tail', async () => {
    const logger = new MemoryLogger();
    const solver = new MicromambaSolver({
      micromamba: exe,
      logger,
      workDir: work,
      env: env({
        GITENV_STANDIN_ANSWER: fixture('dry-run-unsolvable.json'),
        GITENV_STANDIN_EXIT: '1',
        GITENV_STANDIN_STDERR: 'critical libmamba Could not solve for environment specs',
      }),
    });
    const err = await solver.solve(request(logger)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CommandError);
    expect((err as CommandError).exitCode).toBe(1);
    expect((err as CommandError).args).toContain('--dry-run');
    expect((err as Error).message).toMatch(/micromamba could not solve science \(exit code 1\)/);
    expect((err as CommandError).stderrTail).toBe('nothing provides requested nonexistent-package\ncritical libmamba Could not solve for environment specs');
  });

  test('no JSON at all is a CommandError carrying stderr', async () => {
    const logger = new MemoryLogger();
    const answer = path.join(work, 'empty.txt');
    await writeFile(answer, '');
    const solver = new MicromambaSolver({
      micromamba: exe,
      logger,
      workDir: work,
      env: env({ GITENV_STANDIN_ANSWER: answer, GITENV_STANDIN_EXIT: '3', GITENV_STANDIN_STDERR: 'error    libmamba Some channel failed' }),
    });
    await expect(solver.solve(request(logger))).rejects.toThrow(/micromamba printed no JSON solving science \(exit code 3\):\nerror {4}libmamba Some channel failed/);
  });

  test('credentials go into a private authentication.json, never argv, and are masked in errors', async () => {
    const logger = new MemoryLogger();
    const credentials = { apiUser: 'alice', apiKey: 'very-secret-key' };
    const solver = new MicromambaSolver({ micromamba: exe, logger, workDir: work, env: env(), credentials });
    expect(await solver.solve(request(logger))).toEqual(EXPECTED);
    const [call] = calls();
    expect(call.argv.join(' ')).not.toContain('very-secret-key');
    expect(call.env.HOME).not.toBe(process.env.HOME);
    expect(call.authMode).toBe('600');
    expect(call.auth?.['repo.example.com/private']).toEqual({
      type: 'BasicHTTPAuthentication',
      user: 'alice',
      password: Buffer.from('very-secret-key').toString('base64'),
    });
    expect(existsSync(call.env.HOME)).toBe(false);

    const failing = new MicromambaSolver({
      micromamba: exe,
      logger,
      workDir: work,
      credentials,
      env: env({ GITENV_STANDIN_EXIT: '1', GITENV_STANDIN_STDERR: 'error fetching https://alice:very-secret-key@repo.example.com' }),
    });
    const err = (await failing.solve(request(logger)).catch((e: unknown) => e)) as Error;
    expect(err.message).toContain('https://alice:***@repo.example.com');
    expect(err.message).not.toContain('very-secret-key');
  });
});

describe('MicromambaInstaller', () => {
  const locked = (records: PackageRecord[]): LockedPackage[] =>
    records.map((r) => ({
      url: r.url,
      channel: r.channel,
      subdir: r.subdir,
      fn: r.fn,
      dist: `${r.name}-${r.version}-${r.build}`,
      sha256: r.sha256,
      md5: r.md5,
      size: r.size,
    }));

  const layout = () => {
    const envDir = path.join(work, 'target dir', 'science');
    return {
      prefix: path.join(envDir, '2024_06_01'),
      stagingDir: path.join(envDir, '.staging 2024_06_01'),
      pkgCache: path.join(work, 'target dir', '.pkg_cache'),
    };
  };

  test('creates the staging prefix relocated to its final path, with the shared package cache', async () => {
    const logger = new MemoryLogger();
    const installer = new MicromambaInstaller({ micromamba: exe, logger, env: env(), workDir: work });
    const packages = locked(EXPECTED);
    const where = layout();
    const report = await installer.install({ packages, ...where, logger });
    expect(report).toEqual({
      packages: 8,
      cacheHits: 0,
      downloadedBytes: EXPECTED.reduce((n, r) => n + (r.size ?? 0), 0),
    });

    const [version, create] = calls();
    expect(version.argv).toEqual(['--version']);
    const file = create.argv[create.argv.length - 1];
    expect(create.argv).toEqual(['create', '--yes', '--prefix', where.stagingDir, '--relocate-prefix', where.prefix, '--file', file]);
    expect(create.env.CONDA_PKGS_DIRS).toBe(where.pkgCache);
    for (const p of packages) {
      const meta = JSON.parse(await readFile(path.join(where.stagingDir, 'conda-meta', `${p.dist}.json`), 'utf8'));
      expect(meta).toEqual({ url: p.url, fn: p.fn, hash: p.sha256, prefix: where.prefix });
    }
    expect(existsSync(file)).toBe(false);

    const again = { ...where, stagingDir: path.join(path.dirname(where.stagingDir), '.staging again') };
    expect(await installer.install({ packages, ...again, logger })).toEqual({ packages: 8, cacheHits: 8, downloadedBytes: 0 });
  });

  test('credentials go only to the trusted hosts (those of env.spec), not to every channel of the lock', async () => {
    const logger = new MemoryLogger();
    const credentials = { apiUser: 'alice', apiKey: 'very-secret-key' };
    const installer = new MicromambaInstaller({ micromamba: exe, logger, env: env(), workDir: work, credentials });
    await installer.install({ packages: locked(EXPECTED), ...layout(), trustedHosts: ['conda.anaconda.org'], logger });
    const create = calls().find((c) => c.argv[0] === 'create');
    expect(Object.keys(create?.auth ?? {})).toEqual(['conda.anaconda.org/conda-forge']);
  });

  test('a mirror replaces the channel base in the URLs micromamba gets', async () => {
    const logger = new MemoryLogger();
    const installer = new MicromambaInstaller({ micromamba: exe, logger, env: env(), workDir: work });
    const packages = locked(EXPECTED.filter((r) => r.name === 'zlib'));
    const where = layout();
    await installer.install({ packages, ...where, mirror: 'https://mirror.site/conda', logger });
    const meta = JSON.parse(await readFile(path.join(where.stagingDir, 'conda-meta', `${packages[0].dist}.json`), 'utf8'));
    expect(meta.url).toBe(`https://mirror.site/conda/conda-forge/linux-64/${packages[0].fn}`);
  });

  test('micromamba before 1.4.1 lacks --relocate-prefix: the error says which version', async () => {
    const logger = new MemoryLogger();
    const installer = new MicromambaInstaller({ micromamba: exe, logger, workDir: work, env: env({ GITENV_STANDIN_VERSION: '1.4.0' }) });
    const err = await installer.install({ packages: locked(EXPECTED), ...layout(), logger }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigurationError);
    expect((err as Error).message).toMatch(/micromamba 1\.4\.0 has no --relocate-prefix \(added in 1\.4\.1\)/);
  });

  test('micromamba before 2.1 gets md5 hashes, and refuses a sha256-only lock naming its version', async () => {
    const logger = new MemoryLogger();
    const installer = new MicromambaInstaller({ micromamba: exe, logger, workDir: work, env: env({ GITENV_STANDIN_VERSION: '2.0.5' }) });
    const packages = locked(EXPECTED.filter((r) => r.name === 'zlib'));
    const where = layout();
    await installer.install({ packages, ...where, logger });
    const meta = JSON.parse(await readFile(path.join(where.stagingDir, 'conda-meta', `${packages[0].dist}.json`), 'utf8'));
    expect(meta.hash).toBe(packages[0].md5);

    const sha256Only = packages.map((p) => ({ ...p, md5: undefined }));
    await expect(installer.install({ packages: sha256Only, ...layout(), logger })).rejects.toThrow(/micromamba 2\.0\.5 reads only md5/);
  });

  test('a failing create is a CommandError with micromamba stderr tail', async () => {
    const logger = new MemoryLogger();
    const installer = new MicromambaInstaller({
      micromamba: exe,
      logger,
      workDir: work,
      env: env({ GITENV_STANDIN_EXIT: '1', GITENV_STANDIN_STDERR: 'critical libmamba Download error (28) Timeout was reached' }),
    });
    const err = await installer.install({ packages: locked(EXPECTED), ...layout(), logger }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CommandError);
    expect((err as CommandError).stderrTail).toBe('critical libmamba Download error (28) Timeout was reached');
    expect((err as Error).message).toContain(`micromamba could not create ${layout().prefix}`);
  });

  test('a package micromamba silently left out is named', async () => {
    const logger = new MemoryLogger();
    const installer = new MicromambaInstaller({
      micromamba: exe,
      logger,
      workDir: work,
      env: env({ GITENV_STANDIN_SKIP: 'zlib-1.3.1-hb9d3cd8_2', GITENV_STANDIN_STDERR: 'warning  libmamba skipped' }),
    });
    const err = await installer.install({ packages: locked(EXPECTED), ...layout(), logger }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PackageError);
    expect((err as Error).message).toMatch(/^zlib-1\.3\.1-hb9d3cd8_2: micromamba reported success but did not install it:\nwarning {2}libmamba skipped/);
  });
});
