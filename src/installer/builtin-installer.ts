import fs from 'node:fs/promises';
import { mirroredUrl } from '../conda/mirror.js';
import type { LockedPackage } from '../conda/types.js';
import type { FetchLike } from '../net/fetch-like.js';
import { streamFetch } from '../net/stream-fetch.js';
import type { InstallReport, InstallRequest, InstallerEngine } from '../engines/types.js';
import type { RetryPolicy } from '../net/retry.js';
import { PackageError } from '../util/errors.js';
import { redactUrls } from '../util/secrets.js';
import { countExternalMemoryInHeapLimit } from '../util/v8-heap.js';
import { mapLimit } from './concurrency.js';
import { historyEntry, requestedSpecFor, writeCondaMeta, type MetaInput } from './conda-meta.js';
import { DownloadProgress, downloadVerified } from './download.js';
import { linkPackages, type LinkUnit, type LinkedPackage, type LinkedPath } from './link.js';
import { startCompiler, pythonShortVersion, sitePackagesOf, type Compiler } from './noarch-python.js';
import { packageCodeEnv } from './package-env.js';
import { PackageCache, type CacheEntry } from './package-cache.js';
import { readPackageInfo } from './package-info.js';
import { runPostLinkScripts } from './post-link.js';

export interface BuiltinInstallerOptions {
  retry?: RetryPolicy;
  /** A download that sends nothing for this long is aborted and retried. */
  idleTimeoutMs?: number;
  /** How often download progress is logged. */
  progressEveryMs?: number;
  /** Package cache locks older than this are taken over. */
  lockStaleMs?: number;
  maxExtractedBytes?: number;
  /**
   * gitenv's environment (default process.env). Package code (post-link scripts, byte-compilation)
   * takes only PATH, HOME and the locale from it (package-env.ts), never its secrets.
   */
  env?: NodeJS.ProcessEnv;
  now?: () => Date;
}

/**
 * gitenv's own installer: fetch → verify → extract into the package cache → link → conda-meta,
 * every stage a module of its own. Needs nothing installed; python only to byte-compile noarch
 * packages (and that python is the environment's own).
 */
export class BuiltinInstaller implements InstallerEngine {
  constructor(private readonly options: BuiltinInstallerOptions = {}) {}

  async install(request: InstallRequest): Promise<InstallReport> {
    const { logger, packages } = request;
    keepFileSizeSignalIgnored();
    // Archives' bytes go through Buffers by the hundred megabytes: see v8-heap.ts.
    countExternalMemoryInHeapLimit();
    // Nothing is installed that cannot be verified: a lock line without a hash names no content.
    const unverifiable = packages.find((p) => !p.sha256 && !p.md5);
    if (unverifiable) {
      throw new PackageError(unverifiable.dist, `no sha256 (nor md5) for ${redactUrls(unverifiable.url)} in the lock: gitenv installs nothing it cannot verify`);
    }
    const timer = stageTimer(logger);
    const entries = await this.fillCache(request);
    timer('package cache');
    const units: LinkUnit[] = await mapLimit(packages, 8, async (pkg, i) => ({
      dist: pkg.dist,
      dir: entries[i].dir,
      // Kept in the cache entry's marker, else (an entry of an earlier gitenv) read from its files.
      info: entries[i].info ?? (await readPackageInfo(entries[i].dir, pkg.dist)),
    }));
    timer('package metadata');
    const { pythonVersion, sitePackages } = findPython(units);
    await fs.mkdir(request.stagingDir, { recursive: true });
    const notices: string[] = [];
    // The python that byte-compiles the noarch packages starts once the python package is linked,
    // while the packages after it are: its start overlaps their linking.
    let compiler: Compiler | undefined;
    const compiles = !request.foreignPlatform && units.some((u) => u.info.noarchPython);
    let linked: LinkedPackage[];
    try {
      linked = await linkPackages(units, {
        stagingDir: request.stagingDir,
        prefix: request.prefix,
        pythonVersion,
        sitePackages,
        logger,
        concurrency: 8,
        onClobber: (message) => notices.push(message),
        onPackageLinked: (i) => {
          if (!compiles || compiler || units[i].info.index.name !== 'python') return;
          compiler = startCompiler(request.stagingDir, packageCodeEnv(this.options.env));
          logger.debug(`python started to byte-compile the noarch packages (pid ${compiler.pid ?? 'none'}) while the rest is linked`);
        },
      });
    } catch (err) {
      compiler?.stop();
      throw err;
    }
    timer('link');
    if (request.foreignPlatform) {
      // Nothing of another platform's prefix can run here: no python to byte-compile with, and
      // post-link scripts written for that machine.
      logger.info(`Built for ${request.foreignPlatform}: post-link scripts not run, noarch python modules not byte-compiled`);
    }
    const pycs = compiles ? await this.compileNoarch(linked, request, sitePackages, compiler) : new Map<number, LinkedPath[]>();
    timer('byte-compile');
    const scripts = linked.map(({ unit: { info } }) => ({ name: info.index.name, version: info.index.version, buildNumber: info.index.build_number ?? 0 }));
    // Messages join `notices` (the report's array): deferred scripts add theirs before deploy reads it.
    const postLink = async (where: string): Promise<number> => {
      const { messages, ran } = await runPostLinkScripts(where, scripts, logger, this.options.env);
      if (messages) notices.push(`post-link messages:\n${messages}`);
      return ran;
    };
    // Another platform's scripts are never run here; deferred ones run at the final path (deploy).
    if (!request.foreignPlatform && !request.deferPostLink) {
      await postLink(request.stagingDir);
      timer('post-link scripts');
    }
    const metas: MetaInput[] = packages.map((pkg, i) => ({
      pkg,
      linked: linked[i],
      digest: entries[i].digest,
      extraPaths: pycs.get(i),
      requestedSpec: requestedSpecFor(linked[i].unit.info.index.name, request.requestedSpecs),
    }));
    const now = this.options.now?.() ?? new Date();
    const sizeBytes = await writeCondaMeta(request.stagingDir, metas, historyEntry(packages, request.requestedSpecs ?? [], now, 'gitenv deploy'));
    timer('conda-meta');
    const report: InstallReport = {
      packages: packages.length,
      downloadedBytes: entries.reduce((n, e) => n + e.downloadedBytes, 0),
      cacheHits: entries.filter((e) => e.hit).length,
      runPostLink: request.deferPostLink && !request.foreignPlatform ? () => postLink(request.prefix) : undefined,
      notices,
      // Hard links share their cache entry's modes; what the install writes itself (rewritten files
      // keep the entry's modes, entry points 0755, conda-meta, byte-compiled modules, directories)
      // is readable by anyone under such a umask.
      readableByAnyone: entries.every((e) => e.readable) && (process.umask() & 0o055) === 0,
      sizeBytes,
    };
    logger.info(`Installed ${report.packages} packages (${report.cacheHits} from the package cache, ` + `${(report.downloadedBytes / 1e6).toFixed(1)} MB downloaded)`);
    return report;
  }

  /** Every package downloaded, verified and extracted into the cache (bounded concurrency). */
  private async fillCache(request: InstallRequest): Promise<CacheEntry[]> {
    const fetch: FetchLike = request.fetch ?? globalThis.fetch;
    // A caller's own fetch (a test's, say) is the one used, unless it gives its streaming twin too.
    const stream = request.streamFetch ?? (request.fetch ? undefined : streamFetch);
    const progress = new DownloadProgress(request.logger, request.packages.length, this.options.progressEveryMs);
    const cache = new PackageCache(request.pkgCache, {
      logger: request.logger,
      downloads: request.concurrency ?? 4,
      lockStaleMs: this.options.lockStaleMs,
      maxExtractedBytes: this.options.maxExtractedBytes,
      download: async (url, dest, expect, pkg, tap, tapOnly) => {
        progress.fetching(pkg);
        try {
          return await downloadVerified(url, dest, expect, pkg, {
            fetch,
            stream,
            logger: request.logger,
            retry: this.options.retry,
            idleTimeoutMs: this.options.idleTimeoutMs,
            onBytes: progress.add,
            tap,
            tapOnly,
          });
        } finally {
          progress.fetched();
        }
      },
    });
    await cache.sweep();
    // The largest first: a big package started last would be the tail of the whole install.
    const order = request.packages.map((_, i) => i).sort((a, b) => (request.packages[b].size ?? 0) - (request.packages[a].size ?? 0));
    const entries = new Array<CacheEntry>(request.packages.length);
    // What is to fetch, from env.lock's sizes: the total that progress lines count towards.
    const missing = await mapLimit(request.packages, 16, async (p) => ((await cache.has(p)) ? 0 : (p.size ?? 0)));
    progress.totalBytes = missing.reduce((a, b) => a + b, 0) || undefined;
    try {
      await mapLimit(order, cache.inFlight, async (i) => {
        const pkg = request.packages[i];
        entries[i] = await cache.ensure(pkg, fetchUrl(pkg, request.mirror));
        progress.packageDone();
      });
      return entries;
    } finally {
      progress.stop();
    }
  }

  /** Byte-compiles the noarch python packages' modules; the .pyc files join their package's record. */
  private async compileNoarch(linked: LinkedPackage[], request: InstallRequest, sitePackages: string | undefined, started?: Compiler): Promise<Map<number, LinkedPath[]>> {
    const owner = new Map<string, number>();
    linked.forEach((l, i) => {
      if (!l.unit.info.noarchPython) return;
      for (const p of l.paths) {
        if (p.path_type === 'hardlink' && p._path.endsWith('.py') && p._path.startsWith(`${sitePackages}/`)) {
          owner.set(p._path, i);
        }
      }
    });
    const sources = [...owner.keys()];
    if (sources.length === 0) {
      started?.stop();
      return new Map();
    }
    const start = (): Compiler => startCompiler(request.stagingDir, packageCodeEnv(this.options.env));
    let result = await (started ?? start()).compile(sources);
    // Started early, the interpreter may have lacked something linked after it: once more, now that all is.
    if (result.skipped && started) result = await start().compile(sources);
    if (result.skipped) request.logger.warning(`noarch python modules were not byte-compiled: ${result.skipped}`);
    const byPackage = new Map<number, LinkedPath[]>();
    for (const { source, pyc } of result.compiled) {
      const i = owner.get(source) as number;
      const list = byPackage.get(i) ?? [];
      list.push({ _path: pyc, path_type: 'pyc_file' });
      byPackage.set(i, list);
    }
    return byPackage;
  }
}

let fileSizeSignal = false;

/**
 * A write past a file-size limit (`ulimit -f`) must fail with EFBIG, failing its package, not kill the
 * whole deploy: Node ignores SIGXFSZ, but signal-exit (proper-lockfile's, for the cache locks) catches
 * it and raises it again when no other listener is there. One listener that does nothing keeps it ignored.
 */
function keepFileSizeSignalIgnored(): void {
  if (fileSizeSignal || process.platform === 'win32') return;
  fileSizeSignal = true;
  process.on('SIGXFSZ', () => undefined);
}

/** `<mirror>/<channel's last segment>/<subdir>/<fn>` when a mirror is set, else the locked URL. */
function fetchUrl(pkg: LockedPackage, mirror?: string): string {
  return mirror ? mirroredUrl(pkg.channel, pkg.subdir, pkg.fn, mirror) : pkg.url;
}

/**
 * `3.12` and the site-packages path (CEP-17 `python_site_packages_path`, else `lib/python3.12/site-packages`)
 * of the environment's python package; undefined when there is none.
 */
function findPython(units: LinkUnit[]): { pythonVersion?: string; sitePackages?: string } {
  const python = units.find((u) => u.info.index.name === 'python');
  if (!python) return {};
  try {
    return { pythonVersion: pythonShortVersion(python.info.index.version), sitePackages: sitePackagesOf(python.info.index) };
  } catch (err) {
    throw new PackageError(python.dist, (err as Error).message);
  }
}

/** Logs (debug) the time since the previous call: where an install spends its time. */
function stageTimer(logger: { debug(message: string): void }): (stage: string) => void {
  let last = process.hrtime.bigint();
  return (stage) => {
    const now = process.hrtime.bigint();
    logger.debug(`installer stage ${stage}: ${(Number(now - last) / 1e6).toFixed(0)} ms`);
    last = now;
  };
}
