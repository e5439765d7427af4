/**
 * The builtin solver: @conda-org/rattler's WASM build of resolvo (the solver pixi uses), run in a
 * worker thread per solve (solve-pool.ts: its own WASM instance, a memory limit, a timeout). The
 * thread's requests come back here and go through gitenv's FetchWrapper; virtual packages go in
 * as locked packages and are taken out again.
 * Before each solve the repodata is surveyed through the same wrapper and the solver is served
 * only the records the specs can reach (repodata-pruner.ts); the full records behind the result
 * (constrains, license, timestamp, noarch) come from that parsed repodata.
 * What a run holds of a large repodata: not its bytes (once parsed, the fetch wrapper lets the
 * compressed ones go and the parsed repodata keeps the decompressed ones in a file of its own), but
 * an index of where each name's records are, the records the solves reached (the fields the solver
 * reads) and the viability index over them (viable.ts).
 */
import * as os from 'node:os';
import type { PackageRecord, VirtualPackage } from '../conda/types.js';
import type { SolveRequest, SolverEngine } from '../engines/types.js';
import type { FetchWrapper, RequestFailure } from '../net/fetch-wrapper.js';
import { isRetryableStatus } from '../net/retry.js';
import { errorMessage, HttpError } from '../util/errors.js';
import { countExternalMemoryInHeapLimit } from '../util/v8-heap.js';
import { decompressZstd } from '../util/zstd.js';
import { SolverCrashError, UnsolvableError } from './errors.js';
import { ParsedRepodata, reachableNames, SOLVER_FIELDS, type RepodataRecordJson } from './repodata-pruner.js';
import { isVirtualPackage } from '../conda/virtual-packages.js';
import { applyConditions, hasCondition, UnsupportedConditionError } from './conditional-deps.js';
import { PrefixWidener } from './prefix-compat.js';
import { ShardRecords } from './shard-records.js';
import { VersionMatcher, ViabilityIndex, type Candidate } from './viable.js';
import { SolveMemo } from './solve-memo.js';
import { readShard, readShardIndex, repodataOfShards, type ShardIndex } from './shard-loader.js';
import { specName } from '../conda/types.js';
import { sha256Hex } from '../util/files.js';
import { SolverCrash, SolvePool, solvePoolOptions, type SolvePoolOptions } from './solve-pool.js';
import type { FetchReply, FetchRequest, SolvedJson } from './solve-worker.js';

const VIRTUAL_REPO = 'virtual';

/** Shards fetched at once. */
const SHARD_FETCHES = 32;

type ShardEntries = NonNullable<ReturnType<typeof readShard>>;

/** The fields of a shard's records read before the solve (the rest only for the packages of the answer). */
const LEAN: ReadonlySet<string> = new Set(SOLVER_FIELDS);

/**
 * A record of the solve's repodata as viable.ts reads it: the record itself when the solver reads
 * it as it is (no object more per record of a run), else this, with the dependencies it will read.
 */
class Rewritten implements Candidate {
  constructor(
    readonly record: RepodataRecordJson,
    readonly version: string,
    readonly depends: readonly string[],
  ) {}

  get name(): string {
    return this.record.name;
  }
}
type ViableCandidate = Rewritten | (RepodataRecordJson & Candidate);

/** What the solves over the same subdirs and virtual packages share (RattlerSolver.context). */
interface SolveContext {
  parsed: ParsedRepodata[];
  widener: PrefixWidener;
  /** A record as the solver is to read it: conditions decided, prefix terms widened, ties broken. */
  rewrite: (repodata: ParsedRepodata, record: RepodataRecordJson, fn: string) => Partial<RepodataRecordJson> | undefined;
  /** Only when every subdir of the solve is parsed. */
  index?: ViabilityIndex<ViableCandidate>;
}

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
  /** The URL asked for, as the solver asks (the fetch wrapper's form). */
  asked: string;
  /** The bytes the survey was served (still compressed for `.zst`); let go once parsed. */
  body?: Uint8Array;
  /** The sha256 of those bytes, once they are let go. */
  sha256?: string;
  parsed?: ParsedRepodata;
  /** For a sharded subdir read here (shard-loader.ts): the real URL its records are served at instead. */
  servedAs?: string;
  /**
   * For a sharded subdir read here: each name's shard as fetched. Its records were read with the
   * solver's fields only (SOLVER_FIELDS); the full records of the packages of the answer are read
   * from these again.
   */
  shardBodies?: Map<string, Uint8Array>;
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

/**
 * What the WASM solver must see of a record to answer as conda and today's rattler do: conditions
 * decided (conditional-deps.ts), prefix terms widened (prefix-compat.ts), a tie with a featured build broken;
 * undefined when the record stays as it is.
 */
function rewritten(record: RepodataRecordJson, virtuals: VirtualPackage[], widener: PrefixWidener, tieBreak: number | undefined): Partial<RepodataRecordJson> | undefined {
  const changes: Partial<RepodataRecordJson> = {};
  // A plain build wins its tie against a featured one, as in conda (repodata-pruner.ts).
  if (tieBreak !== undefined) changes.timestamp = tieBreak;
  const depends = record.depends;
  if (depends && depends.length > 0) {
    const decidedDepends = hasCondition(depends) ? decided(record, virtuals) : depends;
    const widened = decidedDepends.map((d) => widener.widenSpec(d));
    if (decidedDepends !== depends || widened.some((d, i) => d !== depends[i])) changes.depends = widened;
  }
  return Object.keys(changes).length > 0 ? changes : undefined;
}

/** A record's dependencies with their conditions decided (conditional-deps.ts). */
function decided(record: RepodataRecordJson, virtuals: VirtualPackage[]): string[] {
  try {
    return applyConditions(record.depends ?? [], virtuals);
  } catch (err) {
    throw new UnsupportedConditionError(`${record.name}-${record.version}-${record.build}: ${errorMessage(err)}`);
  }
}

/** A shard of sharded repodata: `<channel>/<subdir>/<shards base>/<sha256>.msgpack.zst`. */
const SHARD = /\/[0-9a-f]{64}\.msgpack\.zst$/;

/**
 * A pruned repodata waiting for the solver thread: `bytes` (a buffer of its own) is handed over as
 * it is, not copied, on the first GET; `make` makes it again should the thread ask twice.
 */
interface PrunedBody {
  bytes?: Uint8Array;
  make: () => Uint8Array;
}

/** Frees the memory of a large buffer of its own at once (its views read nothing from then on). */
function detach(bytes: Uint8Array): void {
  const buffer = bytes.buffer as ArrayBuffer & { transfer?: (length: number) => ArrayBuffer };
  // Never a slice of Node's shared pool (those are small); transfer() is there from Node 21.
  if (bytes.length > Buffer.poolSize && typeof buffer.transfer === 'function') buffer.transfer(0);
}

/** A repodata body larger than this is kept on disk once scanned, not in memory (ParsedRepodata.parse). */
const SPILL_BYTES = 16 * 1024 * 1024;

export class RattlerSolver implements SolverEngine {
  /** Parsed repodata of this run, by real URL (a run asks for the same repodata per environment). */
  private readonly parsed = new Map<string, { size: number; parsed: ParsedRepodata }>();

  /**
   * What the survey found for a subdir (`<channel>/<subdir>` as the solver asks) whose repodata
   * was parsed and whose bytes the fetch wrapper then let go (releaseRepodata): the fetch wrapper's
   * answer stays the same for the run, so later solves take this instead of asking again.
   */
  private readonly settled = new Map<string, Served>();

  private readonly pool: SolvePool;

  /** Version matching answers of this run (viable.ts). */
  private readonly matcher = new VersionMatcher();

  /** What solves over the same subdirs share, by subdirs and virtual packages. */
  private readonly contexts = new Map<string, SolveContext>();

  /** Sharded indexes read (null: unreadable) by body, and the records of each shard fetched, by URL. */
  private readonly shardIndexes = new WeakMap<Uint8Array, ShardIndex | null>();
  private readonly shardEntries = new Map<string, Promise<{ entries: ShardEntries; body: Uint8Array }>>();

  /** Answers of earlier runs (solve-memo.ts); none without `memoDir`. */
  private readonly memo?: SolveMemo;

  /**
   * `pool`: the threads' settings (default: from the GITENV_SOLVER_* variables); `memoDir`: where
   * answers are kept for the next run (the resolve phase uses its repodata cache's directory).
   */
  constructor(
    private readonly fetcher: FetchWrapper,
    pool: Partial<SolvePoolOptions> = {},
    options: { memoDir?: string } = {},
  ) {
    this.pool = new SolvePool({ ...solvePoolOptions(), ...pool });
    if (options.memoDir) this.memo = new SolveMemo(options.memoDir);
  }

  /** Environments worth solving at once: one per thread. */
  get concurrency(): number {
    return this.pool.options.jobs;
  }

  /** Starts a solver thread now, ahead of the first solve. */
  warm(): void {
    this.pool.warm();
  }

  /** Ends the solver threads. */
  async close(): Promise<void> {
    this.contexts.clear();
    this.settled.clear();
    // Their bodies kept on disk (ParsedRepodata.parse) are let go.
    for (const { parsed } of this.parsed.values()) parsed.close();
    this.parsed.clear();
    this.shardEntries.clear();
    this.matcher.free();
    await this.pool.close();
  }

  async solve(request: SolveRequest): Promise<PackageRecord[]> {
    const { env, platform, logger } = request;
    const channels: Channel[] = request.channels.map((c) => ({ real: c.replace(/\/+$/, ''), solver: this.fetcher.solverUrl(c).replace(/\/+$/, '') }));
    const platforms = platform === 'noarch' ? ['noarch'] : [platform, 'noarch'];
    const locked = request.virtualPackages.map((v) => lockedVirtual(v, platform));
    const failuresBefore = this.fetcher.failures.length;
    const specs = applyConditions(request.specs, request.virtualPackages);
    let solved: SolvedJson[];
    let served: Served[] = [];
    let memoKey: string | undefined;
    const shards = new ShardRecords();
    // Shards are written to the cache while the solver thread works, not while they are read.
    const writeShards = this.fetcher.holdShardWrites();
    try {
      served = await this.survey(channels, platforms);
      memoKey = this.memoKey(request, channels, served);
      const kept = memoKey ? await this.memo?.get(memoKey) : undefined;
      if (kept) {
        logger.info(`${env}: the same specs over the same repodata as an earlier run (${platform}): its answer is reused, ${kept.length} packages`);
        writeShards();
        return kept;
      }
      let t = performance.now();
      const took = (): string => {
        const ms = performance.now() - t;
        t += ms;
        return `${Math.round(ms)} ms`;
      };
      for (const s of served) this.parseServed(s);
      const shardCount = await this.loadShards(specs, served);
      if (shardCount > 0) {
        logger.debug(`${env}: ${shardCount} shards read in ${took()}`);
        // From here on, each small growth of the WASM solver's memory no longer sets off a full
        // collection of its thread (about 200 in a conda-forge-sized solve, a third of its time).
        // Not on for the monolithic path, whose big repodata bodies then linger longer (its peak
        // memory rose by about a tenth).
        countExternalMemoryInHeapLimit();
      }
      const context = this.context(served, request.virtualPackages);
      const asked = specs.map((s) => context.widener.widenSpec(s));
      const pruned = this.prune(asked, served, context, logger, env);
      logger.debug(`${env}: repodata pruned and serialized in ${took()} (${[...pruned.values()].reduce((n, b) => n + (b?.bytes?.length ?? 0), 0)} bytes)`);
      writeShards();
      solved = await this.pool.solve({ specs: asked, channels: channels.map((c) => c.solver), platforms, locked }, (r) => this.serve(r, pruned, shards));
      logger.debug(`${env}: the solver thread answered in ${took()}`);
    } catch (err) {
      writeShards();
      // Only this solve's channels: a request another solve left running (the WASM side does not
      // cancel its fetches) may fail meanwhile, and must not be blamed for this environment.
      const ours = this.fetcher.failures.slice(failuresBefore).filter((f) => channels.some((c) => f.url.startsWith(`${c.real}/`)));
      throw this.explain(
        err,
        env,
        channels.map((c) => c.real),
        ours,
      );
    }
    const records = solved.filter((p) => p.repoName !== VIRTUAL_REPO && !isVirtualPackage(p.packageName)).map((p) => this.toRecord(p, channels, served, shards));
    logger.debug(`${env}: solved ${records.length} packages from ${channels.length} channel(s)`);
    if (memoKey) await this.memo?.put(memoKey, records);
    return records;
  }

  /** Answers a request of the solver thread: a pruned repodata, or whatever the fetch wrapper answers. */
  private async serve(request: FetchRequest, pruned: Map<string, PrunedBody | null>, shards: ShardRecords): Promise<FetchReply> {
    const real = this.fetcher.realUrl(request.url);
    if ((request.method === 'GET' || request.method === 'HEAD') && pruned.has(real)) {
      const body = pruned.get(real);
      // null: a sharded index read here, whose records are served as repodata.json.zst instead.
      if (!body) return { status: 404, statusText: 'Not Found', headers: [], body: null };
      const bytes = body.bytes ?? body.make();
      if (request.method === 'HEAD') {
        body.bytes = bytes;
        return { status: 200, statusText: 'OK', headers: [['content-length', String(bytes.length)]], body: null };
      }
      // Handed over (transferred), so no longer ours.
      body.bytes = undefined;
      return { status: 200, statusText: 'OK', headers: [['content-length', String(bytes.length)]], body: bytes.buffer as ArrayBuffer };
    }
    const response = await this.fetcher.fetch(request.url, { method: request.method, headers: request.headers });
    const headers: [string, string][] = [];
    response.headers.forEach((v, k) => headers.push([k, v]));
    const bytes = request.method === 'HEAD' || response.status === 304 ? null : await response.arrayBuffer();
    if (bytes && response.status === 200) {
      const pathname = new URL(request.url).pathname;
      // A copy: `bytes` goes to the solver thread (transferred) before the shard is read, if it ever is.
      if (SHARD.test(pathname)) shards.add(this.fetcher.realUrl(request.url), new Uint8Array(bytes).slice());
      else if (pathname.endsWith('/repodata_shards.msgpack.zst')) shards.addIndex(this.fetcher.realUrl(request.url), new Uint8Array(bytes));
    }
    return { status: response.status, statusText: response.statusText, headers, body: bytes };
  }

  /**
   * Asks for each subdir's repodata the way the WASM solver will (same order; the wrapper keeps
   * the answers, so the solver's own requests cost nothing more) and keeps the bytes served.
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
    const settled = this.settled.get(`${channel.solver}/${subdir}`);
    if (settled) return { ...settled };
    for (const variant of VARIANTS) {
      const response = await this.fetcher.fetch(`${channel.solver}/${subdir}/${variant}`);
      await response.body?.cancel();
      if (response.status === 404) continue;
      const url = `${channel.real}/${subdir}/${variant}`;
      if (response.status !== 200) throw new ChannelAnswerError(url, response.status);
      return { url, asked: `${channel.solver}/${subdir}/${variant}`, channel: channel.real, subdir, variant, body: bodies.get(url) };
    }
    return undefined;
  }

  /** What solve-memo.ts keys an answer by; undefined without a memo or when a body is unknown. */
  private memoKey(request: SolveRequest, channels: Channel[], served: Served[]): string | undefined {
    const memo = this.memo;
    if (!memo || served.length === 0 || served.some((s) => !s.body && !s.sha256)) return undefined;
    return memo.key({
      specs: request.specs,
      platform: request.platform,
      virtualPackages: request.virtualPackages,
      channels: channels.map((c) => c.real),
      repodata: served.map((s) => ({ url: s.url, sha256: s.sha256 ?? memo.bodyHash(s.body as Uint8Array) })),
    });
  }

  /**
   * Parses what can be pruned (`repodata.json`, `.zst`); the rest goes to the solver as it is.
   * Parsed, the bytes are let go, here and in the fetch wrapper (which can read them again from
   * its cache): a conda-forge-sized `.zst` is 70 MB the run would otherwise hold to its end.
   */
  private parseServed(s: Served): void {
    if (s.parsed || (s.variant !== 'repodata.json' && s.variant !== 'repodata.json.zst')) return;
    const key = s.asked.slice(0, s.asked.length - s.variant.length - 1);
    const known = this.settled.get(key);
    if (known) {
      // Let go meanwhile (this solve surveyed before): the bytes it holds may be gone.
      Object.assign(s, { parsed: known.parsed, sha256: known.sha256, body: undefined });
      return;
    }
    const body = s.body;
    if (!body) return;
    s.parsed = this.parse(s.url, body, s.variant);
    if (!s.parsed) return;
    s.sha256 = this.memo?.bodyHash(body) ?? sha256Hex(body);
    s.body = undefined;
    const settled: Served = { ...s };
    void this.fetcher.releaseRepodata(s.asked, s.sha256).then(
      (released) => {
        if (!released || this.settled.has(key) || this.parsed.get(s.url)?.parsed !== settled.parsed) return;
        this.settled.set(key, settled);
        // Compressed, nothing reads these bytes any more (the wrapper let them go, the parsed
        // repodata holds their decompressed copy, solves surveyed before take what is settled,
        // their hash is known): freed now, not at the next full garbage collection. A plain
        // repodata.json's are the parsed repodata's own body.
        if (settled.variant === 'repodata.json.zst') detach(body);
      },
      () => undefined,
    );
  }

  /**
   * For each sharded subdir (CEP-16): the shards of the names the specs reach, fetched breadth
   * first, become that subdir's parsed repodata (shard-loader.ts), so the solver is served it
   * pruned and rewritten as any other. An index that cannot be read, or a glob spec, leaves the
   * shards to the solver itself.
   */
  private async loadShards(specs: string[], served: Served[]): Promise<number> {
    const sharded = served.filter((s) => s.variant === 'repodata_shards.msgpack.zst' && s.body);
    if (sharded.length === 0) return 0;
    const start = specs.map(specName);
    if (start.some((n) => n === '' || /[*?]/.test(n))) return 0;
    const indexes = sharded.map((s) => ({ s, index: this.shardIndex(s) }));
    if (indexes.some((i) => !i.index)) return 0;
    const others = served.filter((s) => s.parsed && !sharded.includes(s)).map((s) => s.parsed as ParsedRepodata);
    const loaded = new Map<Served, ShardEntries[]>();
    // A queue, not levels: each shard read adds the names it reaches, and SHARD_FETCHES lanes keep
    // fetching without waiting for the slowest shard of a level.
    const seen = new Set<string>();
    const names = new Map<string, string>();
    const jobs: { s: Served; name: string; url: string }[] = [];
    const reach = (name: string): void => {
      if (name === '' || seen.has(name) || isVirtualPackage(name)) return;
      seen.add(name);
      for (const { s, index } of indexes) {
        const url = index?.shards.get(name);
        if (url) jobs.push({ s, name, url });
      }
      for (const p of others) for (const d of p.dependencyNames(name)) reach(d);
    };
    for (const n of start) reach(n);
    let failure: Error | undefined;
    let waiting: (() => void)[] = [];
    let busy = 0;
    let jobsDone = 0;
    const wake = (): void => {
      const w = waiting;
      waiting = [];
      for (const f of w) f();
    };
    const lane = async (): Promise<void> => {
      while (failure === undefined) {
        const job = jobs.pop();
        if (!job) {
          if (busy === 0) return;
          await new Promise<void>((r) => waiting.push(r));
          continue;
        }
        busy++;
        try {
          const { entries, body } = await this.shard(job.s, job.url, job.name);
          jobsDone++;
          (job.s.shardBodies ??= new Map()).set(job.name, body);
          let list = loaded.get(job.s);
          if (!list) loaded.set(job.s, (list = []));
          list.push(entries);
          for (const { record } of entries) {
            for (const d of record.depends ?? []) {
              // The builds of a package mostly share their dependencies: each string is read once.
              let n = names.get(d);
              if (n === undefined) names.set(d, (n = specName(d)));
              reach(n);
            }
          }
        } catch (err) {
          failure ??= err instanceof Error ? err : new Error(String(err));
        } finally {
          busy--;
          wake();
        }
      }
    };
    await Promise.all(Array.from({ length: SHARD_FETCHES }, lane));
    if (failure !== undefined) throw failure;
    for (const { s, index } of indexes) {
      s.parsed = repodataOfShards(index as ShardIndex, loaded.get(s) ?? [], { solverFieldsOnly: true });
      s.servedAs = `${s.channel}/${s.subdir}/repodata.json.zst`;
    }
    return jobsDone;
  }

  private shardIndex(s: Served): ShardIndex | undefined {
    const body = s.body as Uint8Array;
    let index = this.shardIndexes.get(body);
    if (index === undefined) this.shardIndexes.set(body, (index = readShardIndex(body, s.asked) ?? null));
    return index ?? undefined;
  }

  /** One shard's records of `name` (records of other names in it are left out), fetched once per run. */
  private shard(s: Served, url: string, name: string): Promise<{ entries: ShardEntries; body: Uint8Array }> {
    let known = this.shardEntries.get(url);
    if (!known) {
      known = (async () => {
        const body = await this.fetcher.fetchShard(url);
        const real = this.fetcher.realUrl(url);
        if (body instanceof Response) {
          await body.body?.cancel();
          throw new ChannelAnswerError(real, body.status);
        }
        const entries = readShard(body, name, { only: LEAN });
        if (!entries) throw new Error(`the shard ${real} of ${s.channel}/${s.subdir} (package ${name}) cannot be read`);
        return { entries, body };
      })();
      this.shardEntries.set(url, known);
      known.catch(() => this.shardEntries.delete(url));
    }
    return known;
  }

  private parse(url: string, body: Uint8Array, variant: string): ParsedRepodata | undefined {
    const known = this.parsed.get(url);
    if (known && known.size === body.length) return known.parsed;
    try {
      // A decompressed body is this solver's alone; a plain one is also the fetch wrapper's answer.
      const zst = variant === 'repodata.json.zst';
      const parsed = ParsedRepodata.parse(zst ? decompressZstd(body) : body, { spillDir: os.tmpdir(), spillBytes: SPILL_BYTES, owned: zst });
      this.parsed.set(url, { size: body.length, parsed });
      return parsed;
    } catch {
      return undefined; // let the solver say what is wrong with it
    }
  }

  /**
   * What the solves over the same subdirs (and virtual packages) share: the prefix widener, each
   * record as the solver is to read it, and the viability index (viable.ts). Made on the first
   * solve over them, then reused by every environment of the run.
   */
  private context(served: Served[], virtuals: VirtualPackage[]): SolveContext {
    const parsed = served.map((s) => s.parsed).filter((p): p is ParsedRepodata => p !== undefined);
    const key = `${served.map((s) => s.url).join(' ')}\0${JSON.stringify(virtuals)}`;
    const known = this.contexts.get(key);
    if (known && known.parsed.length === parsed.length && known.parsed.every((p, i) => p === parsed[i])) return known;
    const widener = new PrefixWidener(function* (name) {
      for (const p of parsed) for (const { record } of p.entries(name)) yield record.version;
    });
    const changes = new Map<RepodataRecordJson, Partial<RepodataRecordJson> | undefined>();
    const rewrite = (repodata: ParsedRepodata, record: RepodataRecordJson, fn: string): Partial<RepodataRecordJson> | undefined => {
      if (!changes.has(record)) changes.set(record, rewritten(record, virtuals, widener, repodata.tieBreaks(String(record.name).toLowerCase()).get(fn)));
      return changes.get(record);
    };
    const context: SolveContext = { parsed, widener, rewrite };
    // Pruning needs every subdir parsed (a record of another could reach further).
    if (parsed.length === served.length && process.env.GITENV_SOLVER_PRUNE !== 'names') {
      const candidates = new Map<string, ViableCandidate[]>();
      const recordsOf = (name: string): ViableCandidate[] => {
        let list = candidates.get(name);
        if (!list) {
          list = [];
          for (const r of parsed) {
            for (const { record, fn } of r.entries(name)) {
              const depends = rewrite(r, record, fn)?.depends ?? record.depends;
              if (depends === record.depends && Array.isArray(depends) && typeof record.version === 'string') list.push(record as RepodataRecordJson & Candidate);
              else list.push(new Rewritten(record, String(record.version), depends ?? []));
            }
          }
          candidates.set(name, list);
        }
        return list;
      };
      context.index = new ViabilityIndex(recordsOf, virtuals, this.matcher);
    }
    this.contexts.set(key, context);
    return context;
  }

  /**
   * Each parsed repodata pruned to the records the specs can reach and that can ever be installed
   * (viable.ts), by real URL (none: serve them whole).
   */
  private prune(specs: string[], served: Served[], context: SolveContext, logger: SolveRequest['logger'], env: string): Map<string, PrunedBody | null> {
    const parsed = served.filter((s) => s.parsed);
    if (parsed.length === 0) return new Map();
    const viability = context.index?.prune(specs);
    if (viability) {
      const kept = new Set<RepodataRecordJson>();
      for (const c of viability.kept) kept.add(c instanceof Rewritten ? c.record : c);
      logger.debug(`${env}: the solver gets ${kept.size} of the ${viability.before} records of ${viability.names.size} reachable package names (the others can never be installed)`);
      return new Map(parsed.flatMap((s) => this.body(s, viability.names, context.rewrite, (record) => kept.has(record))));
    }
    // A glob spec reaches anything; a subdir not parsed could reach further. The records are still
    // rewritten then, all of them.
    const reachable = parsed.length === served.length ? reachableNames(specs, context.parsed) : undefined;
    logger.debug(reachable ? `${env}: the solver gets the records of ${reachable.size} reachable package names` : `${env}: the solver gets every record (not pruned)`);
    return new Map(parsed.flatMap((s) => this.body(s, reachable ?? new Set((s.parsed as ParsedRepodata).names()), context.rewrite)));
  }

  /** One subdir's pruned repodata, as the variant the solver asked for. */
  private body(
    s: Served,
    names: Set<string>,
    rewrite: (repodata: ParsedRepodata, record: RepodataRecordJson, fn: string) => Partial<RepodataRecordJson> | undefined,
    keep?: (record: RepodataRecordJson) => boolean,
  ): [string, PrunedBody | null][] {
    const repodata = s.parsed as ParsedRepodata;
    // A buffer of its own (joinPieces), framed as zstd when the solver asked for .zst.
    const zstd = s.servedAs !== undefined || s.variant === 'repodata.json.zst';
    const make = (): Uint8Array => repodata.pruned(names, (record, fn) => rewrite(repodata, record, fn), keep, { zstd });
    const body = { bytes: make(), make };
    if (s.servedAs)
      return [
        [s.url, null],
        [s.servedAs, body],
      ];
    return [[s.url, body]];
  }

  /** The full record of `fn` from the shard of `name` read here, if it was (`packages.conda` first). */
  private shardRecord(s: Served | undefined, fn: string, name: string): RepodataRecordJson | undefined {
    const body = s?.shardBodies?.get(name.toLowerCase());
    if (!body) return undefined;
    const entries = readShard(body, name.toLowerCase())?.filter((e) => e.fn === fn) ?? [];
    return (entries.find((e) => e.table === 'packages.conda') ?? entries[0])?.record;
  }

  private toRecord(p: SolvedJson, channels: Channel[], served: Served[], shards: ShardRecords): PackageRecord {
    const url = this.fetcher.realUrl(p.url);
    const m = /^(.*)\/([^/]+)\/([^/]+)$/.exec(url);
    const channel = channels.find((c) => p.url.startsWith(c.solver + '/'))?.real ?? m?.[1] ?? url;
    const subdir = p.subdir ?? m?.[2] ?? '';
    const fn = p.filename || m?.[3] || '';
    const source = served.find((s) => s.channel === channel && s.subdir === subdir);
    const parsed = source?.parsed;
    // bz2 repodata is not parsed here: the record then has what the solver returned.
    const full: RepodataRecordJson | undefined = this.shardRecord(source, fn, p.packageName) ?? parsed?.record(fn) ?? shards.record(channel, subdir, fn, p.packageName);
    const record: PackageRecord = {
      name: p.packageName,
      version: p.version,
      build: p.build,
      buildNumber: Number(p.buildNumber ?? full?.build_number ?? 0),
      subdir,
      channel,
      fn,
      url,
      // The repodata's own list: what the solver was given may have had its conditions decided.
      depends: full?.depends ?? p.depends ?? [],
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
    if (err instanceof SolverCrash) return new SolverCrashError(env, err.reason);
    if (err instanceof UnsupportedConditionError) return new UnsupportedConditionError(`environment "${env}": ${err.message}`);
    const channelOf = (url: string): string => channels.find((c) => url.startsWith(c + '/')) ?? url;
    if (err instanceof ChannelAnswerError && err.status !== 404 && !failures.some((f) => f.url === err.url)) {
      return new HttpError(err.url, err.status, `environment "${env}": channel ${channelOf(err.url)} answered ${err.status} for ${err.url}`);
    }
    const message = this.fetcher.realUrl(typeof err === 'string' ? err : errorMessage(err));
    const broken = failures.find((f) => f.status === undefined || isRetryableStatus(f.status));
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
