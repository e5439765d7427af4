/**
 * The builtin solver: @conda-org/rattler's WASM build of resolvo (the solver pixi uses). It
 * fetches repodata through the global fetch, which is swapped for gitenv's FetchWrapper for the
 * duration of a solve; virtual packages go in as locked packages and are taken out again.
 */
import { simpleSolve, type Platform, type SolvedPackage } from '@conda-org/rattler';
import type { PackageRecord, VirtualPackage } from '../conda/types.js';
import type { SolveRequest, SolverEngine } from '../engines/types.js';
import type { FetchWrapper, RequestFailure } from '../net/fetch-wrapper.js';
import { errorMessage, HttpError } from '../util/errors.js';
import { UnsolvableError } from './errors.js';
import { RecordIndex, type RepodataRecordJson } from './record-index.js';
import { isVirtualPackage } from './virtual-packages.js';

const VIRTUAL_REPO = 'virtual';

/** A virtual package in the shape the WASM side reads locked packages in (SolvedPackage JSON). */
function lockedVirtual(v: VirtualPackage, platform: string): Record<string, unknown> {
  return {
    packageName: v.name,
    version: v.version,
    build: v.build,
    buildNumber: 0n,
    subdir: platform,
    url: `virtual://${v.name}`,
    filename: v.name,
    repoName: VIRTUAL_REPO,
  };
}

export class RattlerSolver implements SolverEngine {
  constructor(private readonly fetcher: FetchWrapper) {}

  async solve(request: SolveRequest): Promise<PackageRecord[]> {
    const { env, platform, logger } = request;
    const channels = request.channels.map((c) => ({ real: c.replace(/\/+$/, ''), solver: this.fetcher.solverUrl(c).replace(/\/+$/, '') }));
    const platforms = (platform === 'noarch' ? ['noarch'] : [platform, 'noarch']) as Platform[];
    const locked = request.virtualPackages.map((v) => lockedVirtual(v, platform));
    const index = new RecordIndex();
    const stopIndexing = this.fetcher.onRepodata(index.add);
    const failuresBefore = this.fetcher.failures.length;
    let solved: SolvedPackage[];
    try {
      solved = await this.fetcher.asGlobal(() =>
        simpleSolve(
          request.specs,
          channels.map((c) => c.solver),
          platforms,
          locked,
        ),
      );
    } catch (err) {
      throw this.explain(err, env, channels.map((c) => c.real), this.fetcher.failures.slice(failuresBefore));
    } finally {
      stopIndexing();
    }
    try {
      const records = solved
        .filter((p) => p.repoName !== VIRTUAL_REPO && !isVirtualPackage(p.packageName))
        .map((p) => this.toRecord(p, channels, index));
      logger.debug(`${env}: solved ${records.length} packages from ${channels.length} channel(s)`);
      return records;
    } finally {
      for (const p of solved) p.free();
      index.clear();
    }
  }

  private toRecord(p: SolvedPackage, channels: { real: string; solver: string }[], index: RecordIndex): PackageRecord {
    const url = this.fetcher.realUrl(p.url);
    const m = /^(.*)\/([^/]+)\/([^/]+)$/.exec(url);
    const channel = channels.find((c) => p.url.startsWith(c.solver + '/'))?.real ?? m?.[1] ?? url;
    const subdir = p.subdir ?? m?.[2] ?? '';
    const fn = p.filename || m?.[3] || '';
    const full: RepodataRecordJson | undefined = index.lookup(channel, subdir, fn);
    const record: PackageRecord = {
      name: p.packageName,
      version: p.version,
      build: p.build,
      buildNumber: Number(p.buildNumber ?? full?.build_number ?? 0),
      subdir,
      channel,
      fn,
      url,
      depends: p.depends ?? full?.depends ?? [],
      constrains: full?.constrains ?? [],
    };
    const md5 = p.md5 ?? full?.md5;
    const sha256 = p.sha256 ?? full?.sha256;
    const size = p.size !== undefined ? Number(p.size) : full?.size;
    if (md5) record.md5 = md5;
    if (sha256) record.sha256 = sha256;
    if (size !== undefined) record.size = size;
    if (full?.noarch === 'python' || full?.noarch === 'generic') record.noarch = full.noarch;
    else if (full?.noarch === true) record.noarch = 'generic';
    if (full?.license) record.license = full.license;
    if (full?.timestamp !== undefined) record.timestamp = full.timestamp;
    return record;
  }

  /**
   * Turns what the WASM solver threw (a bare string, "error sending request" for a network
   * failure) into an error naming the environment and, when a channel is at fault, the channel.
   */
  private explain(err: unknown, env: string, channels: string[], failures: RequestFailure[]): Error {
    const message = this.fetcher.realUrl(typeof err === 'string' ? err : errorMessage(err));
    const channelOf = (url: string): string => channels.find((c) => url.startsWith(c + '/')) ?? url;
    const broken = failures.find((f) => f.status === undefined || f.status >= 500 || f.status === 408 || f.status === 429);
    if (broken) {
      return new HttpError(broken.url, broken.status, `environment "${env}": channel ${channelOf(broken.url)} cannot be reached (${broken.message} for ${broken.url})`);
    }
    const missing = failures.find((f) => f.status === 404 && /\/noarch\/repodata\.json$/.test(f.url)) ?? (/could not find subdir/.test(message) ? failures.find((f) => f.status === 404) : undefined);
    if (missing) {
      return new HttpError(missing.url, 404, `environment "${env}": channel ${channelOf(missing.url)} was not found (404 for ${missing.url})`);
    }
    const status = /HTTP status (?:client|server) error \((\d{3})[^)]*\) for url \(([^)]+)\)/.exec(message);
    if (status) {
      return new HttpError(status[2], Number(status[1]), `environment "${env}": channel ${channelOf(status[2])} answered ${status[1]} for ${status[2]}`);
    }
    return new UnsolvableError(env, message);
  }
}
