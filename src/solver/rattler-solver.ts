/**
 * The builtin solver: @conda-org/rattler's WASM build of resolvo (the solver pixi uses). It
 * fetches repodata through the global fetch, which is swapped for gitenv's FetchWrapper for the
 * duration of a solve; virtual packages go in as locked packages and are taken out again.
 * Before each solve the repodata is surveyed through the same wrapper and the solver is served
 * only the records the specs can reach (repodata-pruner.ts); the full records behind the result
 * (constrains, license, timestamp, noarch) come from that parsed repodata.
 */
import { simpleSolve, type Platform, type SolvedPackage } from '@conda-org/rattler';
import type { PackageRecord, VirtualPackage } from '../conda/types.js';
import type { SolveRequest, SolverEngine } from '../engines/types.js';
import type { FetchWrapper, RequestFailure } from '../net/fetch-wrapper.js';
import { errorMessage, HttpError } from '../util/errors.js';
import { decompressZstd } from '../util/zstd.js';
import { UnsolvableError } from './errors.js';
import { ParsedRepodata, reachableNames, type RepodataRecordJson } from './repodata-pruner.js';
import { isVirtualPackage } from './virtual-packages.js';
import { zstdStored } from './zstd-stored.js';

const VIRTUAL_REPO = 'virtual';

/** The repodata files the WASM solver asks for per subdir, in its order. */
const VARIANTS = ['repodata_shards.msgpack.zst', 'repodata.json.zst', 'repodata.json.bz2', 'repodata.json'] as const;

interface Channel {
  real: string;
  solver: string;
}

/** What the solver will be served for one subdir of one channel. */
interface Served {
  /** The real URL of the variant the solver will take. */
  url: string;
  channel: string;
  subdir: string;
  variant: (typeof VARIANTS)[number];
  parsed?: ParsedRepodata;
}

/** An answer that is neither a body nor a 404: the solve cannot go on. */
class ChannelAnswerError extends Error {
  constructor(
    readonly url: string,
    readonly status: number,
  ) {
    super(`HTTP ${status} for ${url}`);
  }
}

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
  /** Parsed repodata of this run, by real URL (a run asks for the same repodata per environment). */
  private readonly parsed = new Map<string, { size: number; parsed: ParsedRepodata }>();

  constructor(private readonly fetcher: FetchWrapper) {}

  async solve(request: SolveRequest): Promise<PackageRecord[]> {
    const { env, platform, logger } = request;
    const channels: Channel[] = request.channels.map((c) => ({ real: c.replace(/\/+$/, ''), solver: this.fetcher.solverUrl(c).replace(/\/+$/, '') }));
    const platforms = (platform === 'noarch' ? ['noarch'] : [platform, 'noarch']) as Platform[];
    const locked = request.virtualPackages.map((v) => lockedVirtual(v, platform));
    const failuresBefore = this.fetcher.failures.length;
    let solved: SolvedPackage[];
    let served: Served[] = [];
    try {
      served = await this.survey(channels, platforms);
      const stopPruning = this.prune(request.specs, served, logger, env);
      try {
        solved = await this.fetcher.asGlobal(() =>
          simpleSolve(
            request.specs,
            channels.map((c) => c.solver),
            platforms,
            locked,
          ),
        );
      } finally {
        stopPruning();
      }
    } catch (err) {
      // Only this solve's channels: a request another solve left running (the WASM side does not
      // cancel its fetches) may fail meanwhile, and must not be blamed for this environment.
      const ours = this.fetcher.failures.slice(failuresBefore).filter((f) => channels.some((c) => f.url.startsWith(`${c.real}/`)));
      throw this.explain(err, env, channels.map((c) => c.real), ours);
    }
    try {
      const records = solved
        .filter((p) => p.repoName !== VIRTUAL_REPO && !isVirtualPackage(p.packageName))
        .map((p) => this.toRecord(p, channels, served));
      logger.debug(`${env}: solved ${records.length} packages from ${channels.length} channel(s)`);
      return records;
    } finally {
      for (const p of solved) p.free();
    }
  }

  /**
   * Asks for each subdir's repodata the way the WASM solver will (same order; the wrapper keeps
   * the answers, so the solver's own requests cost nothing more) and parses what can be pruned.
   */
  private async survey(channels: Channel[], platforms: string[]): Promise<Served[]> {
    const bodies = new Map<string, Uint8Array>();
    const stop = this.fetcher.onRepodata((url, body) => bodies.set(url, body));
    try {
      const found = await Promise.all(channels.flatMap((c) => platforms.map((subdir) => this.surveySubdir(c, subdir, bodies))));
      return found.filter((f): f is Served => f !== undefined);
    } finally {
      stop();
    }
  }

  private async surveySubdir(channel: Channel, subdir: string, bodies: Map<string, Uint8Array>): Promise<Served | undefined> {
    for (const variant of VARIANTS) {
      const response = await this.fetcher.fetch(`${channel.solver}/${subdir}/${variant}`);
      await response.body?.cancel();
      if (response.status === 404) continue;
      const url = `${channel.real}/${subdir}/${variant}`;
      if (response.status !== 200) throw new ChannelAnswerError(url, response.status);
      const served: Served = { url, channel: channel.real, subdir, variant };
      const body = bodies.get(url);
      if (body && (variant === 'repodata.json' || variant === 'repodata.json.zst')) served.parsed = this.parse(url, body, variant);
      return served;
    }
    return undefined;
  }

  private parse(url: string, body: Uint8Array, variant: string): ParsedRepodata | undefined {
    const known = this.parsed.get(url);
    if (known && known.size === body.length) return known.parsed;
    try {
      const parsed = ParsedRepodata.parse(variant === 'repodata.json.zst' ? decompressZstd(body) : body);
      this.parsed.set(url, { size: body.length, parsed });
      return parsed;
    } catch {
      return undefined; // let the solver say what is wrong with it
    }
  }

  /** Serves each parsed repodata pruned to the names the specs can reach; returns the undo. */
  private prune(specs: string[], served: Served[], logger: SolveRequest['logger'], env: string): () => void {
    if (served.length === 0 || served.some((s) => !s.parsed)) return () => {};
    const names = reachableNames(specs, served.map((s) => s.parsed as ParsedRepodata));
    if (!names) return () => {};
    const bodies = new Map(
      served.map((s) => {
        const json = (s.parsed as ParsedRepodata).pruned(names);
        return [s.url, s.variant === 'repodata.json.zst' ? zstdStored(json) : json];
      }),
    );
    logger.debug(`${env}: the solver gets the records of ${names.size} reachable package names`);
    return this.fetcher.transformRepodata((url) => bodies.get(url));
  }

  private toRecord(p: SolvedPackage, channels: Channel[], served: Served[]): PackageRecord {
    const url = this.fetcher.realUrl(p.url);
    const m = /^(.*)\/([^/]+)\/([^/]+)$/.exec(url);
    const channel = channels.find((c) => p.url.startsWith(c.solver + '/'))?.real ?? m?.[1] ?? url;
    const subdir = p.subdir ?? m?.[2] ?? '';
    const fn = p.filename || m?.[3] || '';
    const parsed = served.find((s) => s.channel === channel && s.subdir === subdir)?.parsed;
    // Sharded or bz2 repodata is not parsed here: the record then has what the solver returned.
    const full: RepodataRecordJson | undefined = parsed?.record(fn);
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
    const channelOf = (url: string): string => channels.find((c) => url.startsWith(c + '/')) ?? url;
    if (err instanceof ChannelAnswerError && err.status !== 404 && !failures.some((f) => f.url === err.url)) {
      return new HttpError(err.url, err.status, `environment "${env}": channel ${channelOf(err.url)} answered ${err.status} for ${err.url}`);
    }
    const message = this.fetcher.realUrl(typeof err === 'string' ? err : errorMessage(err));
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
