/**
 * The thread side of the builtin solver: one WASM instance of @conda-org/rattler per worker
 * thread, one solve at a time. Every request the WASM side sends goes back to the main thread,
 * whose FetchWrapper answers it (credentials, file:// channels, the repodata cache, pruning): the
 * thread itself never touches the network.
 *
 * The thread is started by solve-pool.ts with a bootstrap that caps the WASM module's memory
 * before the module is compiled: an allocation past the cap fails inside the solver, which aborts
 * (`unreachable`) and takes only this thread down. A crash is reported with what is known (the
 * panic message, the memory in use) and the thread exits: an instance that trapped is never reused.
 */
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { simpleSolve, type Platform, type SolvedPackage } from '@conda-org/rattler';

/** The flag in `workerData` that turns a bundle loaded in a thread into a solver thread. */
export const SOLVE_WORKER_FLAG = 'gitenvSolveWorker';

/** A solve as the main thread hands it over (channel URLs as the WASM side must see them). */
export interface SolveJob {
  specs: string[];
  channels: string[];
  platforms: string[];
  /** Locked packages in the shape of SolvedPackage JSON (the virtual packages). */
  locked: Record<string, unknown>[];
}

/** A solved package as plain data. */
export interface SolvedJson {
  packageName: string;
  version: string;
  build: string;
  buildNumber?: number;
  subdir?: string;
  url: string;
  filename: string;
  repoName?: string;
  depends?: string[];
  md5?: string;
  sha256?: string;
  size?: number;
}

export interface FetchRequest {
  url: string;
  method: string;
  headers: [string, string][];
}

export interface FetchReply {
  status: number;
  statusText: string;
  headers: [string, string][];
  body: ArrayBuffer | null;
}

export type ToWorker = ({ type: 'solve'; id: number } & SolveJob) | ({ type: 'fetched'; req: number } & FetchReply) | { type: 'fetch-failed'; req: number; message: string };

export type FromWorker =
  | { type: 'fetch'; req: number; request: FetchRequest }
  | { type: 'solved'; id: number; packages: SolvedJson[]; memoryBytes: number }
  | { type: 'unsolvable'; id: number; message: string; memoryBytes: number }
  | { type: 'crashed'; reason: string };

/** True in a thread the solve pool started (the entries check this before running anything). */
export function inSolveWorker(): boolean {
  return !isMainThread && (workerData as Record<string, unknown> | null)?.[SOLVE_WORKER_FLAG] === true;
}

const MB = 1024 * 1024;

function plain(p: SolvedPackage): SolvedJson {
  const out: SolvedJson = { packageName: p.packageName, version: p.version, build: p.build, url: p.url, filename: p.filename };
  if (p.buildNumber !== undefined) out.buildNumber = Number(p.buildNumber);
  if (p.size !== undefined) out.size = Number(p.size);
  if (p.subdir !== undefined) out.subdir = p.subdir;
  if (p.repoName !== undefined) out.repoName = p.repoName;
  if (p.depends !== undefined) out.depends = p.depends;
  if (p.md5 !== undefined) out.md5 = p.md5;
  if (p.sha256 !== undefined) out.sha256 = p.sha256;
  return out;
}

/** A body as a stream of itself (a Response made from an ArrayBuffer copies it). */
function streamOf(body: ArrayBuffer): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new Uint8Array(body));
      controller.close();
    },
  });
}

/** Serves solves until the main thread terminates this thread. */
export function serveSolves(): void {
  const port = parentPort;
  if (!port) throw new Error('serveSolves runs in a worker thread only');
  const limitMb = Number((workerData as { memoryMb?: number }).memoryMb ?? 0);
  const memory = (): number => (globalThis as { __gitenvWasmMemory?: { buffer: ArrayBuffer } }).__gitenvWasmMemory?.buffer.byteLength ?? 0;
  // The WASM side reports a panic through console.error before it aborts: keep the last lines for the report.
  const said: string[] = [];
  console.error = (...args: unknown[]) => {
    said.push(args.map(String).join(' '));
    if (said.length > 5) said.shift();
  };
  const crash = (err: unknown): void => {
    const what = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    const panic = said
      .map((s) => /panicked at [^\n]*\n([^\n]+)/.exec(s)?.[1] ?? /^(.*?)(\n|$)/.exec(s)?.[1])
      .filter(Boolean)
      .pop();
    const used = Math.round(memory() / MB);
    let reason: string;
    if (panic) reason = `the solver panicked: ${panic} (${what}; ${used} MB of WASM memory in use)`;
    else if (/unreachable|out of memory|memory access out of bounds/i.test(what) && limitMb > 0) {
      reason = `the solver aborted (${what}) with ${used} MB of WASM memory in use, against a limit of ${limitMb} MB: an allocation past the limit fails this way`;
    } else reason = `the solver crashed (${what}; ${used} MB of WASM memory in use)`;
    port.postMessage({ type: 'crashed', reason } satisfies FromWorker);
    process.exit(1);
  };
  process.on('uncaughtException', crash);
  process.on('unhandledRejection', crash);

  // The bodies handed to the WASM side (a pruned conda-forge-sized repodata is tens of MB): once
  // the solve has read them they are let go at once, not when this thread's small heap is next
  // collected, which may be several solves later.
  let received: ArrayBuffer[] = [];
  const release = (): void => {
    for (const body of received) (body as ArrayBuffer & { transfer?: (length: number) => ArrayBuffer }).transfer?.(0);
    received = [];
  };

  let nextReq = 0;
  const pending = new Map<number, { resolve: (r: Response) => void; reject: (e: Error) => void; url: string }>();
  globalThis.fetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const request = new Request(input, init);
    const req = nextReq++;
    const headers: [string, string][] = [];
    request.headers.forEach((v, k) => headers.push([k, v]));
    return new Promise<Response>((resolve, reject) => {
      pending.set(req, { resolve, reject, url: request.url });
      port.postMessage({ type: 'fetch', req, request: { url: request.url, method: request.method, headers } } satisfies FromWorker);
    });
  };

  port.on('message', (msg: ToWorker) => {
    if (msg.type === 'fetched' || msg.type === 'fetch-failed') {
      const waiting = pending.get(msg.req);
      if (!waiting) return;
      pending.delete(msg.req);
      if (msg.type === 'fetch-failed') {
        waiting.reject(new TypeError(`fetch failed: ${msg.message}`));
        return;
      }
      const nullBody = msg.status === 204 || msg.status === 304 || msg.status < 200;
      const body = nullBody ? null : msg.body;
      if (body) received.push(body);
      const response = new Response(body ? streamOf(body) : null, { status: msg.status, statusText: msg.statusText, headers: msg.headers });
      Object.defineProperty(response, 'url', { value: waiting.url });
      waiting.resolve(response);
      return;
    }
    const { id, specs, channels, platforms, locked } = msg;
    simpleSolve(specs, channels, platforms as Platform[], locked)
      .finally(release)
      .then(
        (solved) => {
          const packages = solved.map(plain);
          for (const p of solved) p.free();
          port.postMessage({ type: 'solved', id, packages, memoryBytes: memory() } satisfies FromWorker);
        },
        (err: unknown) => {
          // What the WASM side rejects with is a string (or an Error): the solver's own explanation.
          const message = typeof err === 'string' ? err : err instanceof Error ? err.message : String(err);
          port.postMessage({ type: 'unsolvable', id, message, memoryBytes: memory() } satisfies FromWorker);
        },
      );
  });
}
