/**
 * The micromamba engine: resolve with `micromamba create --dry-run --json`, install with
 * `micromamba create --file <explicit> --relocate-prefix <final>`. Construct with the executable's
 * path (from ensureMicromamba) and a logger.
 */
import { existsSync, statSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import type { LockedPackage, PackageRecord } from '../conda/types.js';
import { LOCK_FILE } from '../manifest/files.js';
import { CommandError, ConfigurationError, PackageError, tailLines } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import { atLeast, micromambaVersion, runMicromamba, type MicromambaVersion } from './micromamba-command.js';
import { overrideVariables, baseEnvironment, writeAuthHome } from './micromamba-env.js';
import { channelOrMirror, explicitFile } from './micromamba-explicit.js';
import { linkRecords, parseDryRunOutput, solverProblems } from './micromamba-json.js';
import type { ChannelCredentials, InstallReport, InstallRequest, InstallerEngine, SolveRequest, SolverEngine } from './types.js';

export interface MicromambaEngineOptions {
  /** Path of the micromamba executable. */
  micromamba: string;
  logger: Logger;
  /** Environment micromamba inherits (default process.env); CONDA_OVERRIDE_* in it are replaced. */
  env?: NodeJS.ProcessEnv;
  /** Scratch space for the explicit file and the private HOME (default the OS temp directory). */
  workDir?: string;
  /** Channel credentials, handed to micromamba through its authentication file. */
  credentials?: ChannelCredentials;
}

/** What each feature needs: `--relocate-prefix` came in 1.4.1, `#sha256` in explicit files in 2.1.0. */
const RELOCATE_PREFIX = [1, 4, 1] as const;
const SHA256_EXPLICIT = [2, 1, 0] as const;

/** Shared by both engines: the version (asked once), scratch space, environment, error text. */
abstract class MicromambaEngine {
  private version?: Promise<MicromambaVersion>;
  constructor(protected readonly options: MicromambaEngineOptions) {}

  protected micromambaVersion(): Promise<MicromambaVersion> {
    this.version ??= micromambaVersion(this.options.micromamba, this.options.env ?? process.env);
    return this.version;
  }

  /** Runs `body` with a scratch directory and micromamba's environment, then removes the scratch. */
  protected async withScratch<T>(channels: readonly string[], extra: Record<string, string>, body: (scratch: string, env: NodeJS.ProcessEnv) => Promise<T>): Promise<T> {
    const scratch = await mkdtemp(path.join(this.options.workDir ?? os.tmpdir(), 'gitenv-micromamba-'));
    try {
      const base = baseEnvironment(this.options.env ?? process.env);
      const auth = await writeAuthHome(this.options.credentials ?? {}, channels, scratch, base);
      const env: NodeJS.ProcessEnv = { ...base, ...extra };
      if (auth) {
        env.HOME = auth.home;
        env.USERPROFILE = auth.home;
        this.options.logger.debug('micromamba reads channel credentials from a private authentication.json');
      }
      return await body(scratch, env);
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  }

  /** A CommandError whose stderr tail has the channel key masked (micromamba may echo URLs). */
  protected commandError(args: string[], exitCode: number | null, text: string, summary: string): CommandError {
    return new CommandError(this.options.micromamba, args, exitCode, this.mask(tailLines(text)), summary);
  }

  private mask(text: string): string {
    const key = this.options.credentials?.apiKey;
    return key && key.length >= 3 ? text.split(key).join('***') : text;
  }
}

export class MicromambaSolver extends MicromambaEngine implements SolverEngine {
  constructor(options: MicromambaEngineOptions) {
    super(options);
  }

  async solve(request: SolveRequest): Promise<PackageRecord[]> {
    const overrides = overrideVariables(request.virtualPackages);
    return this.withScratch(request.channels, overrides, async (scratch, env) => {
      const args = solveArgs(request, path.join(scratch, 'solve-prefix'));
      request.logger.debug(`micromamba ${args.join(' ')}`);
      const out = await runMicromamba(this.options.micromamba, args, { env, allowFailure: true });
      const answer = parseDryRunOutput(out.stdout);
      if (!answer) {
        throw this.commandError(args, out.exitCode, out.stderr || out.stdout, `micromamba printed no JSON solving ${request.env}`);
      }
      const problems = solverProblems(answer);
      if (out.exitCode !== 0 || answer.success === false || problems.length > 0) {
        const text = [...problems, out.stderr].join('\n');
        throw this.commandError(args, out.exitCode, text, `micromamba could not solve ${request.env}`);
      }
      return linkRecords(answer, request.channels);
    });
  }
}

/** `create --dry-run --json` for a prefix that never exists, channels in order, nothing else. */
export function solveArgs(request: SolveRequest, prefix: string): string[] {
  return [
    'create',
    '--dry-run',
    '--json',
    '--yes',
    '--prefix',
    prefix,
    '--override-channels',
    '--strict-channel-priority',
    ...request.channels.flatMap((c) => ['--channel', c]),
    '--platform',
    request.platform,
    ...request.specs,
  ];
}

export class MicromambaInstaller extends MicromambaEngine implements InstallerEngine {
  constructor(options: MicromambaEngineOptions) {
    super(options);
  }

  async install(request: InstallRequest): Promise<InstallReport> {
    const version = await this.micromambaVersion();
    if (!atLeast(version, ...RELOCATE_PREFIX)) {
      throw new ConfigurationError(
        `micromamba ${version.text} has no --relocate-prefix (added in ${RELOCATE_PREFIX.join('.')}), which deploy needs ` +
          'to build a prefix in staging for its final path; use a newer micromamba (input micromamba-version)',
      );
    }
    const lock = explicitFile(request.packages, {
      mirror: request.mirror,
      sha256Hashes: atLeast(version, ...SHA256_EXPLICIT),
      versionText: version.text,
    });
    const cached = request.packages.filter((p) => inPackageCache(request.pkgCache, p));
    const extra: Record<string, string> = { CONDA_PKGS_DIRS: request.pkgCache };
    // Another platform's prefix: micromamba runs none of its link scripts (the variable is the
    // setting of micromamba's --skip-run-link-scripts; installArgs adds --platform).
    if (request.foreignPlatform) extra.MAMBA_SKIP_RUN_LINK_SCRIPTS = 'true';
    if (request.concurrency) extra.MAMBA_DOWNLOAD_THREADS = String(request.concurrency);
    const trusted = request.trustedHosts;
    const channels = [...new Set(request.packages.map((p) => channelOrMirror(p.channel, request.mirror)))].filter((c) => !trusted || trusted.includes(hostOf(c)));
    await this.withScratch(channels, extra, async (scratch, env) => {
      const file = path.join(scratch, LOCK_FILE);
      await writeFile(file, lock);
      const args = installArgs(request, file);
      request.logger.info(`micromamba ${version.text}: installing ${request.packages.length} packages into ${request.prefix}`);
      const out = await runMicromamba(this.options.micromamba, args, { env, allowFailure: true });
      if (out.exitCode !== 0) {
        throw this.commandError(args, out.exitCode, out.stderr || out.stdout, `micromamba could not create ${request.prefix}`);
      }
      request.logger.debug(tailLines(out.stdout, 20));
      this.checkInstalled(request.packages, request.stagingDir, args, out.stderr);
    });
    const downloaded = request.packages.filter((p) => !cached.includes(p));
    return {
      packages: request.packages.length,
      downloadedBytes: downloaded.reduce((n, p) => n + packageSize(request.pkgCache, p), 0),
      cacheHits: cached.length,
    };
  }

  /** Every package must have its conda-meta record; a missing one is named with micromamba's stderr. */
  private checkInstalled(packages: readonly LockedPackage[], stagingDir: string, args: string[], stderr: string): void {
    for (const p of packages) {
      if (!existsSync(path.join(stagingDir, 'conda-meta', `${p.dist}.json`))) {
        const tail = this.commandError(args, 0, stderr, '').stderrTail;
        throw new PackageError(p.dist, `micromamba reported success but did not install it${tail ? `:\n${tail}` : ''}`);
      }
    }
  }
}

/** `create` into the staging directory, with placeholders replaced by the final path. */
export function installArgs(request: InstallRequest, explicitFilePath: string): string[] {
  return [
    'create',
    '--yes',
    '--prefix',
    request.stagingDir,
    '--relocate-prefix',
    request.prefix,
    '--file',
    explicitFilePath,
    ...(request.foreignPlatform ? ['--platform', request.foreignPlatform] : []),
  ];
}

/** conda's package cache keeps the archive (`<fn>`) and/or its extraction (`<dist>/info`). */
function inPackageCache(pkgCache: string, p: LockedPackage): boolean {
  return existsSync(path.join(pkgCache, p.fn)) || existsSync(path.join(pkgCache, p.dist, 'info', 'index.json'));
}

function packageSize(pkgCache: string, p: LockedPackage): number {
  if (p.size) return p.size;
  const archive = path.join(pkgCache, p.fn);
  return existsSync(archive) ? statSync(archive).size : 0;
}

/** `host[:port]` of a URL ('' when it has none). */
function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return '';
  }
}
