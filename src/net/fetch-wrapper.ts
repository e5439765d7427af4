/**
 * The one fetch gitenv's engines use: the global fetch plus
 * - `file://` URLs and plain paths read from disk;
 * - local channels under a synthetic http URL (the WASM solver cannot read file:// itself), whose
 *   URLs `realUrl` maps back;
 * - channel credentials as HTTP basic auth, sent only to the channel hosts;
 * - an on-disk repodata cache revalidated with ETag / Last-Modified;
 * - retries on network errors, 5xx, 408 and 429 (src/net/retry.ts);
 * - counts of requests and bytes, for the log and the benchmark.
 * Credentials never go into a URL, a log line or the cache.
 */
import { sha256Hex } from '../util/files.js';
import { withoutCredentials } from '../util/secrets.js';
import * as path from 'node:path';
import { proxyFor } from './site-network.js';
import { fileURLToPath } from 'node:url';
import type { FetchLike } from './fetch-like.js';
import { streamFetch, type StreamFetch, type StreamResponse } from './stream-fetch.js';
import type { Logger } from '../util/logger.js';
import { errorMessage } from '../util/errors.js';
import { fileResponse, withUrl } from './local-files.js';
import { RepodataCache } from './repodata-cache.js';
import { asRetryable, DEFAULT_RETRY, isRetryableStatus, networkMessage, parseRetryAfter, RetryableError, withRetries, type RetryPolicy } from './retry.js';

export interface FetchWrapperOptions {
  apiUser?: string;
  apiKey?: string;
  /** Channel base URLs whose hosts get the credentials (more can be added with addChannel). */
  channels?: string[];
  /** Where repodata is cached; no cache when absent. */
  cacheDir?: string;
  retry?: RetryPolicy;
  /**
   * Retries for requests other than repodata (package downloads). A caller that retries on its own
   * — the installer's downloader, which must also retry bodies cut short — passes `{ attempts: 1 }`
   * so that the two budgets do not multiply. Default: `retry`.
   */
  otherRetry?: RetryPolicy;
  logger?: Logger;
  /** How often a repodata download still running is reported (default 5 s): never silent for long. */
  progressEveryMs?: number;
  /** The fetch underneath (default: the global fetch at construction time). */
  baseFetch?: FetchLike;
  /** The package downloads' GET underneath `stream` (default: net/stream-fetch.ts's). */
  baseStream?: StreamFetch;
}

export interface FetchStats {
  /** HTTP requests sent (retries included). */
  requests: number;
  /** Response body bytes received over HTTP. */
  bytesFetched: number;
  /** Requests the cache answered after a 304. */
  notModified: number;
  /** Repodata requests answered from what this wrapper already fetched (no request at all). */
  reused: number;
  /** Bytes read from local files. */
  bytesFromDisk: number;
  /** Shards of sharded repodata taken from the cache (no request at all: a shard never changes). */
  shardsFromCache: number;
}

export type RepodataListener = (url: string, body: Uint8Array) => void;
/** Gives another body for a repodata URL (the real URL), or undefined to serve it as it is. */
export type RepodataTransform = (url: string, body: Uint8Array) => Uint8Array | undefined;

/** A request that failed for good: the solver uses these to name the channel at fault. */
export interface RequestFailure {
  /** The real URL (never synthetic, never with credentials). */
  url: string;
  status?: number;
  message: string;
}

/** A repodata answer of this run whose bytes were let go (`releaseRepodata`): they are in the cache. */
interface Released {
  released: true;
  size: number;
  sha256: string;
}

const SYNTHETIC = /^http:\/\/local-channel-(\d+)\.gitenv\.invalid(?=\/|$)/;

/**
 * A shard of sharded repodata (CEP-16): named by the sha256 of its bytes, so it never changes and
 * is cached without ever being asked for again.
 */
const SHARD = /\/([0-9a-f]{64})\.msgpack\.zst$/;

/** The repodata files the solver asks for, in the order it asks. */
const REPODATA = /\/(repodata\.json|repodata\.json\.zst|repodata\.json\.bz2|repodata_shards\.msgpack\.zst)$/;

export class FetchWrapper {
  readonly stats: FetchStats = { requests: 0, bytesFetched: 0, notModified: 0, reused: 0, bytesFromDisk: 0, shardsFromCache: 0 };
  readonly failures: RequestFailure[] = [];
  private readonly local: string[] = [];
  private readonly listeners = new Set<RepodataListener>();
  private transform?: RepodataTransform;
  /** Repodata answers of this run (a run is short; channels do not change under it in a way that matters). */
  private readonly answers = new Map<string, Promise<Uint8Array | 404 | undefined | Released>>();
  /** Shards of this run, by URL. */
  private readonly shards = new Map<string, Promise<Uint8Array>>();
  /** The bytes behind a buffered response, for this wrapper's own reads (no second copy of a 300 MB repodata). */
  private readonly bodies = new WeakMap<Response, Uint8Array>();
  private readonly hosts = new Set<string>();
  private readonly auth?: string;
  private readonly cache?: RepodataCache;
  private readonly base: FetchLike;

  constructor(private readonly options: FetchWrapperOptions = {}) {
    const { apiUser, apiKey } = options;
    if (apiUser || apiKey) {
      options.logger?.setSecret(apiKey ?? '');
      this.auth = 'Basic ' + Buffer.from(`${apiUser ?? ''}:${apiKey ?? ''}`).toString('base64');
      options.logger?.setSecret(this.auth.slice(6));
    }
    if (options.cacheDir) this.cache = new RepodataCache(options.cacheDir);
    this.base = options.baseFetch ?? globalThis.fetch.bind(globalThis);
    for (const c of options.channels ?? []) this.addChannel(c);
  }

  /**
   * Calls `listener` with every repodata body served (the real URL; the body as served, e.g. still
   * zstd-compressed) until the returned function is called.
   */
  onRepodata(listener: RepodataListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Serves what `transform` returns instead of the repodata fetched (the listeners still get the
   * original), until the returned function is called. One transform at a time.
   */
  transformRepodata(transform: RepodataTransform): () => void {
    this.transform = transform;
    return () => {
      if (this.transform === transform) this.transform = undefined;
    };
  }

  /**
   * Lets go of the bytes of a repodata answer of this run (a conda-forge-sized `.zst` is 70 MB)
   * once the caller has made what it needs of them: a later request for the URL reads them again
   * from the cache (checked against their size and sha256, given or computed here), or asks the
   * server again if the cache no longer has them. False when the bytes are not in the cache (no
   * cache, or the server gave no validators): then they are kept. True when already let go.
   */
  async releaseRepodata(url: string, sha256?: string): Promise<boolean> {
    const known = this.answers.get(url);
    const answer = known ? await known : undefined;
    if (answer !== undefined && answer !== 404 && !(answer instanceof Uint8Array)) return true; // already let go
    if (!(answer instanceof Uint8Array) || !this.cache) return false;
    const entry = await this.cache.validators(url);
    if (!entry || entry.size !== answer.length || this.answers.get(url) !== known) return false;
    const released: Released = { released: true, size: answer.length, sha256: sha256 ?? sha256Hex(answer) };
    this.answers.set(url, Promise.resolve(released));
    return true;
  }

  /** Keeps shards from being written to the cache until the returned function is called (RepodataCache.holdShardWrites). */
  holdShardWrites(): () => void {
    return this.cache?.holdShardWrites() ?? (() => {});
  }

  /** Resolves once what this wrapper queued for the cache (shards, written in the background) is written. */
  async settled(): Promise<void> {
    await this.cache?.shardsSettled();
  }

  /** Registers a channel: its host gets the credentials. */
  addChannel(channelUrl: string): void {
    const u = new URL(channelUrl);
    if (u.protocol === 'http:' || u.protocol === 'https:') this.hosts.add(u.host);
  }

  /**
   * The URL to give the WASM solver for a channel: http(s) channels as they are, a file:// one as
   * a synthetic http URL that this wrapper serves from disk.
   */
  solverUrl(channelUrl: string): string {
    if (!channelUrl.startsWith('file:')) {
      this.addChannel(channelUrl);
      return channelUrl;
    }
    const base = channelUrl.replace(/\/+$/, '');
    let i = this.local.indexOf(base);
    if (i < 0) i = this.local.push(base) - 1;
    return `http://local-channel-${i}.gitenv.invalid`;
  }

  /** Maps a synthetic URL (or a message holding some) back to the real file:// URL. */
  realUrl(text: string): string {
    return text.replace(/http:\/\/local-channel-(\d+)\.gitenv\.invalid/g, (m, i: string) => this.local[Number(i)] ?? m);
  }

  /** The wrapped fetch, bound: hand it to whatever wants a fetch. */
  readonly fetch: FetchLike = (input, init) => this.dispatch(input, init);

  /**
   * A package download (net/stream-fetch.ts) with what `fetch` adds to one: the channel credentials
   * for the channel hosts, the request and byte counts, a failure noted for the report. No retries:
   * the installer's downloader retries, bodies cut short included.
   */
  readonly stream: StreamFetch = async (url, init) => {
    const headers: Record<string, string> = { ...init.headers };
    const given = Object.keys(headers).some((k) => k.toLowerCase() === 'authorization');
    if (this.auth && this.hosts.has(new URL(url).host) && !given) headers.authorization = this.auth;
    this.stats.requests++;
    let res: StreamResponse;
    try {
      res = await (this.options.baseStream ?? streamFetch)(url, { ...init, headers });
    } catch (err) {
      this.failures.push({ url, message: networkMessage(err, proxyNote(url)) });
      throw asRetryable(err, proxyNote(url));
    }
    if (res.status >= 400) this.failures.push({ url, status: res.status, message: `HTTP ${res.status}` });
    return { ...res, body: counting(res.body, this.stats) };
  };

  /**
   * Runs `fn` with the global fetch replaced by this wrapper: the WASM solver looks the global up
   * on every call. Calls must not overlap (the resolve phase solves one environment at a time).
   */
  async asGlobal<T>(fn: () => Promise<T>): Promise<T> {
    const saved = globalThis.fetch;
    globalThis.fetch = this.fetch;
    try {
      return await fn();
    } finally {
      globalThis.fetch = saved;
    }
  }

  private async dispatch(input: string | URL | Request, init?: RequestInit): Promise<Response> {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const synthetic = SYNTHETIC.exec(url);
    if (synthetic) return this.serveFile(fileURLToPath(this.realUrl(url)), url);
    if (url.startsWith('file:')) return this.serveFile(fileURLToPath(url), url);
    if (path.isAbsolute(url)) return this.serveFile(url, url);
    const method = (init?.method ?? (input instanceof Request ? input.method : 'GET')).toUpperCase();
    const headers = new Headers(input instanceof Request ? input.headers : undefined);
    new Headers(init?.headers).forEach((v, k) => headers.set(k, v));
    const host = new URL(url).host;
    if (this.auth && this.hosts.has(host) && !headers.has('authorization')) headers.set('authorization', this.auth);
    if (method === 'GET' && REPODATA.test(new URL(url).pathname)) return this.remembered(url, headers);
    const shard = method === 'GET' ? SHARD.exec(new URL(url).pathname) : null;
    if (shard) return this.shard(url, shard[1], headers);
    const body = init?.body ?? (input instanceof Request ? input.body : undefined);
    return this.send(url, { ...init, method, headers, body }, false, this.options.otherRetry);
  }

  /** A file from disk; what a local channel lacks (shards, compressed variants) is a fast 404. */
  private async serveFile(filePath: string, asUrl: string): Promise<Response> {
    const { response, bytes } = await fileResponse(filePath, asUrl);
    this.stats.bytesFromDisk += bytes;
    if (response.status === 404) this.noteMissing(asUrl);
    else if (REPODATA.test(filePath) && (this.listeners.size > 0 || this.transform)) {
      return this.repodataResponse(this.realUrl(asUrl), new Uint8Array(await response.arrayBuffer()), asUrl);
    }
    return response;
  }

  /** A 404 on the last repodata variant means the channel (or this subdir of it) is not there. */
  private noteMissing(url: string): void {
    if (url.endsWith('/repodata.json')) this.failures.push({ url: this.realUrl(url), status: 404, message: 'not found (404)' });
  }

  /**
   * One request with retries; a retryable status that persists is returned as it is. With
   * `buffer`, the body is read inside the attempt, so a body cut short is retried too.
   */
  private async send(url: string, init: RequestInit, buffer = false, policy?: RetryPolicy): Promise<Response> {
    const log = this.options.logger;
    try {
      const response = await withRetries(
        policy ?? this.options.retry ?? DEFAULT_RETRY,
        async () => {
          this.stats.requests++;
          const r = await this.base(url, init).catch((err: unknown) => {
            throw asRetryable(err, proxyNote(url));
          });
          if (isRetryableStatus(r.status)) {
            await r.body?.cancel();
            throw new RetryableError(`HTTP ${r.status} from ${url}`, parseRetryAfter(r.headers.get('retry-after')), r.status);
          }
          return buffer ? this.buffered(r, url) : r;
        },
        (err, n, delay) => log?.debug(`${errorMessage(err)}; retry ${n} in ${Math.round(delay)} ms`),
      );
      if (response.status === 404) this.noteMissing(url);
      return buffer ? response : this.counted(response, url);
    } catch (err) {
      const status = err instanceof RetryableError ? err.status : undefined;
      const message = status ? `HTTP ${status}` : networkMessage(err, proxyNote(url));
      this.failures.push({ url, status, message });
      if (status) {
        // Keep the server's Retry-After: a caller with a retry budget of its own (downloads) honours it.
        const wait = (err as RetryableError).retryAfterMs;
        const headers = wait === undefined ? undefined : { 'retry-after': String(Math.ceil(wait / 1000)) };
        return withUrl(new Response(`HTTP ${status}`, { status, headers }), url);
      }
      throw err instanceof RetryableError && err.cause ? err.cause : err;
    }
  }

  private async buffered(r: Response, url: string): Promise<Response> {
    let body: Uint8Array;
    try {
      body = await this.readReporting(r, url);
    } catch (err) {
      throw new RetryableError(`body of ${url} cut short: ${errorMessage(err)}`);
    }
    this.stats.bytesFetched += body.byteLength;
    const headers = new Headers(r.headers);
    headers.delete('content-encoding');
    headers.set('content-length', String(body.byteLength));
    // As a stream of the bytes read: a Response made from bytes would copy them (70 MB for a conda-forge-sized `.zst`).
    const response = withUrl(new Response(r.status === 304 ? null : streamOf(body), { status: r.status, statusText: r.statusText, headers }), url);
    this.bodies.set(response, body);
    return response;
  }

  /** Reads a body whole, saying every few seconds how far it got (a 24 MB repodata on a slow line). */
  private async readReporting(r: Response, url: string): Promise<Uint8Array> {
    if (!r.body) return new Uint8Array(0);
    const total = Number(r.headers.get('content-length')) || undefined;
    const every = this.options.progressEveryMs ?? 5_000;
    const chunks: Uint8Array[] = [];
    // With its length announced, the body is read straight into one buffer (not chunks, then a copy).
    let whole = total !== undefined && total <= 1024 ** 3 ? Buffer.allocUnsafe(total) : undefined;
    let received = 0;
    let last = Date.now();
    const reader = (r.body as ReadableStream<Uint8Array>).getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (whole && received + value.byteLength <= whole.length) whole.set(value, received);
      else {
        // More than announced (or no length): chunks from here on.
        if (whole) chunks.push(whole.subarray(0, received));
        whole = undefined;
        chunks.push(value);
      }
      received += value.byteLength;
      if (Date.now() - last >= every) {
        last = Date.now();
        this.options.logger?.info(`Fetching ${this.shownRepodata(url)}: ${megabytes(received)}${total ? ` of ${megabytes(total)}` : ''} so far`);
      }
    }
    if (whole) return whole.subarray(0, received);
    return Buffer.concat(chunks);
  }

  /** A repodata URL as a person reads it: the real channel URL and subdir, no credentials. */
  private shownRepodata(url: string): string {
    return withoutCredentials(this.realUrl(url));
  }

  /** Counts the body's bytes as they are read, whoever reads them. */
  private counted(response: Response, url: string): Response {
    if (!response.body) return response;
    const stats = this.stats;
    const counter = new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        stats.bytesFetched += chunk.byteLength;
        controller.enqueue(chunk);
      },
    });
    const headers = new Headers(response.headers);
    // The body is already decoded: its old encoding and length no longer describe it.
    headers.delete('content-encoding');
    headers.delete('content-length');
    const out = new Response(response.body.pipeThrough(counter), { status: response.status, statusText: response.statusText, headers });
    return withUrl(out, url);
  }

  /**
   * Each repodata URL is asked for once per wrapper: the solver asks again for every environment,
   * and the answer (a body or a 404) is kept for the next solve. Other answers are not kept.
   */
  private async remembered(url: string, headers: Headers): Promise<Response> {
    const known = this.answers.get(url);
    let answer = known ? await known : undefined;
    if (answer !== undefined && answer !== 404 && !(answer instanceof Uint8Array)) {
      // Let go of earlier (releaseRepodata): the same bytes from the cache, or a new answer.
      const hit = await this.cache?.read(url);
      if (hit && hit.body.length === answer.size && sha256Hex(hit.body) === answer.sha256) answer = hit.body;
      else {
        if (this.answers.get(url) === known) this.answers.delete(url);
        return this.remembered(url, headers);
      }
    }
    if (answer === 404) {
      this.stats.reused++;
      this.noteMissing(url);
      return withUrl(new Response('not found', { status: 404, statusText: 'Not Found' }), url);
    }
    if (answer) {
      this.stats.reused++;
      return this.repodataResponse(url, answer);
    }
    let settle: (value: Uint8Array | 404 | undefined) => void = () => {};
    this.answers.set(url, new Promise((r) => (settle = r)));
    try {
      const { response, body } = await this.repodataGet(url, headers);
      settle(response.status === 404 ? 404 : body);
      if (response.status !== 404 && !body) this.answers.delete(url);
      return response;
    } catch (err) {
      settle(undefined);
      this.answers.delete(url);
      throw err;
    }
  }

  /**
   * A shard: from this run's answers, else from the cache (checked against its name), else from
   * the server (checked, then cached). Never revalidated: its name is its content.
   */
  private async shard(url: string, sha256: string, headers: Headers): Promise<Response> {
    const body = await this.shardBody(url, sha256, headers);
    return body instanceof Uint8Array ? withUrl(bytesResponse(body), url) : body;
  }

  /**
   * A shard's bytes, as `fetch` serves them but without a Response around them (the sharded path
   * of a large channel reads thousands); an answer other than the shard (a 404, a shard that does
   * not match its name) comes back as its Response.
   */
  async fetchShard(url: string): Promise<Uint8Array | Response> {
    const shard = /^https?:/.test(url) && !SYNTHETIC.test(url) ? SHARD.exec(new URL(url).pathname) : null;
    if (!shard) {
      const response = await this.fetch(url);
      return response.status === 200 ? new Uint8Array(await response.arrayBuffer()) : response;
    }
    const headers = new Headers();
    if (this.auth && this.hosts.has(new URL(url).host)) headers.set('authorization', this.auth);
    return this.shardBody(url, shard[1], headers);
  }

  private async shardBody(url: string, sha256: string, headers: Headers): Promise<Uint8Array | Response> {
    const known = this.shards.get(url);
    if (known) {
      this.stats.reused++;
      return known;
    }
    const cached = await this.cache?.readShard(url);
    if (cached && sha256Hex(cached) === sha256) {
      this.stats.shardsFromCache++;
      this.shards.set(url, Promise.resolve(cached));
      return cached;
    }
    const response = await this.send(url, { method: 'GET', headers }, true);
    if (response.status !== 200) return response;
    const body = this.bodies.get(response) ?? new Uint8Array(await response.arrayBuffer());
    if (sha256Hex(body) !== sha256) {
      // What the server sent is not the shard asked for: a broken mirror or proxy; nothing kept.
      this.failures.push({ url, status: 502, message: 'the shard does not match its sha256 name' });
      return withUrl(new Response('shard content does not match its name', { status: 502, statusText: 'Bad Gateway' }), url);
    }
    this.shards.set(url, Promise.resolve(body));
    this.cache?.writeShard(url, body, (err: unknown) => this.options.logger?.debug(`shard not cached: ${errorMessage(err)}`));
    return body;
  }

  /**
   * A repodata GET, through the cache when there is one: conditional when validators are stored,
   * and a 304 answered with the cached body.
   */
  private async repodataGet(url: string, headers: Headers, conditional = true): Promise<{ response: Response; body?: Uint8Array }> {
    const cache = this.cache;
    const known = cache && conditional ? await cache.validators(url) : undefined;
    if (known?.etag) headers.set('if-none-match', known.etag);
    if (known?.lastModified) headers.set('if-modified-since', known.lastModified);
    const response = await this.send(url, { method: 'GET', headers }, true);
    if (response.status === 304 && cache && known) {
      const hit = await cache.read(url);
      if (hit) {
        this.stats.notModified++;
        this.options.logger?.info(`Fetched ${this.shownRepodata(url)}: not modified (${megabytes(hit.body.length)} from the cache)`);
        return { response: this.repodataResponse(url, hit.body), body: hit.body };
      }
      // The body went missing since the validators were read: ask again, unconditionally.
      headers.delete('if-none-match');
      headers.delete('if-modified-since');
      return this.repodataGet(url, headers, false);
    }
    if (response.status !== 200) return { response };
    const body = this.bodies.get(response) ?? new Uint8Array(await response.arrayBuffer());
    this.options.logger?.info(`Fetched ${this.shownRepodata(url)}: ${megabytes(body.length)}`);
    const etag = response.headers.get('etag') ?? undefined;
    const lastModified = response.headers.get('last-modified') ?? undefined;
    if (cache && (etag || lastModified)) {
      // A cache that cannot be written (read-only home, full disk) costs the next run a download, no more.
      await cache.write({ url, etag, lastModified, size: body.length }, body).catch((err: unknown) => this.options.logger?.debug(`repodata cache not written: ${errorMessage(err)}`));
    }
    return { response: this.repodataResponse(url, body), body };
  }

  /** A repodata body as a response (to `asUrl`, default `url`), told to the listeners, transformed when asked. */
  private repodataResponse(url: string, body: Uint8Array, asUrl = url): Response {
    for (const l of this.listeners) l(url, body);
    const served = this.transform?.(url, body) ?? body;
    return withUrl(bytesResponse(served), asUrl);
  }
}

/**
 * A 200 whose body is `bytes`, as a stream: a Response made from bytes copies them, and a repodata
 * of tens of MB is asked for by every solve of a run (mostly only to learn that it is there), a
 * shard by every solve that reaches its name.
 */
function bytesResponse(bytes: Uint8Array): Response {
  return new Response(streamOf(bytes), { status: 200, headers: { 'content-length': String(bytes.length) } });
}

function streamOf(bytes: Uint8Array): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(bytes);
      controller.close();
    },
  });
}

const megabytes = (n: number): string => (n >= 100_000 ? `${(n / 1e6).toFixed(1)} MB` : `${(n / 1e3).toFixed(1)} kB`);

/** What a network error's message adds when the request went through a proxy: the proxy, and where it came from. */
/** A body whose bytes are counted as they are read. */
async function* counting(body: AsyncIterable<Buffer>, stats: FetchStats): AsyncGenerator<Buffer> {
  for await (const chunk of body) {
    stats.bytesFetched += chunk.length;
    yield chunk;
  }
}

function proxyNote(url: string): string {
  const proxy = proxyFor(url);
  return proxy ? ` (through the proxy ${proxy}, from the proxy variables or condarc proxy_servers: is it running and reachable?)` : '';
}
