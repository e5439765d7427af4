/**
 * Worker threads for the builtin solver: each solve runs in a thread with its own WASM instance,
 * a memory limit and a timeout, so that a solver crash (a panic, `unreachable`, a capacity
 * overflow), a limit or a timeout fails that one environment, and solves of different
 * environments run on different cores.
 *
 * The thread runs the very file this module was loaded from: in the committed bundles that is the
 * entry bundle itself (the entries hand over to serveSolves when they find themselves in a solver
 * thread), from the TypeScript sources (tsx, jest) it is solve-worker.ts through tsx's loader. A
 * bootstrap runs first and caps the WASM module's memory before it is compiled.
 *
 * Settings (environment variables, all optional): GITENV_SOLVER_JOBS (threads; default the
 * number of cores, at most 4), GITENV_SOLVER_MEMORY_MB (WASM memory per thread; default 2048,
 * at most 4096, the 32-bit WASM limit), GITENV_SOLVER_TIMEOUT (seconds per solve; default 900).
 */
import * as os from 'node:os';
import { Worker } from 'node:worker_threads';
import { ConfigurationError } from '../util/errors.js';
import { threadEntry } from '../util/threads.js';
import { SOLVE_WORKER_FLAG, type FetchReply, type FetchRequest, type FromWorker, type SolveJob, type SolvedJson, type ToWorker } from './solve-worker.js';

export interface SolvePoolOptions {
  /** Threads solving at once. */
  jobs: number;
  /** WASM memory per thread, MB. */
  memoryMb: number;
  /** Per solve, ms. */
  timeoutMs: number;
}

/** Answers the WASM side's requests (the main thread's fetch wrapper). */
export type FetchServer = (request: FetchRequest) => Promise<FetchReply>;

/** A solve that ended without an answer: the thread crashed, hit a limit, or ran out of time. */
export class SolverCrash extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'SolverCrash';
  }
}

const PAGE = 64 * 1024;
const MAX_MEMORY_MB = 4096;

function positive(env: NodeJS.ProcessEnv, name: string, fallback: number, max = Infinity): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new ConfigurationError(`${name}=${raw}: expected a positive number`);
  return Math.min(n, max);
}

/** The pool's settings from GITENV_SOLVER_* variables. */
export function solvePoolOptions(env: NodeJS.ProcessEnv = process.env): SolvePoolOptions {
  const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  return {
    jobs: Math.max(1, Math.floor(positive(env, 'GITENV_SOLVER_JOBS', Math.min(cores, 4), 64))),
    memoryMb: positive(env, 'GITENV_SOLVER_MEMORY_MB', 2048, MAX_MEMORY_MB),
    timeoutMs: positive(env, 'GITENV_SOLVER_TIMEOUT', 900) * 1000,
  };
}

/**
 * Runs in the thread before anything else (CommonJS, as an `eval` worker): caps the memory of the
 * WASM module about to be compiled (its memory section gets a maximum), keeps its instance's memory
 * for the crash report, then loads the entry.
 */
const BOOTSTRAP = String.raw`
const { workerData } = require('node:worker_threads');
const maxPages = workerData.maxPages;
const W = globalThis.WebAssembly;
function leb(buf, at) { let v = 0, shift = 0, b; do { b = buf[at++]; v += (b & 0x7f) * 2 ** shift; shift += 7; } while (b & 0x80); return [v, at]; }
function uleb(n) { const out = []; do { let b = n % 128; n = Math.floor(n / 128); if (n > 0) b |= 0x80; out.push(b); } while (n > 0); return out; }
function capped(bytes) {
  const buf = bytes instanceof Uint8Array ? bytes : ArrayBuffer.isView(bytes) ? new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) : bytes instanceof ArrayBuffer ? new Uint8Array(bytes) : null;
  if (!buf || buf.length < 8 || buf[0] !== 0 || buf[1] !== 0x61 || buf[2] !== 0x73 || buf[3] !== 0x6d) return bytes;
  let at = 8;
  while (at < buf.length) {
    const id = buf[at];
    const [size, start] = leb(buf, at + 1);
    if (id === 5) {
      let [count, p] = leb(buf, start);
      if (count !== 1) return bytes;
      const flags = buf[p++];
      if (flags & ~1) return bytes; // shared or 64-bit memory: left alone
      const [min, q] = leb(buf, p);
      let max = maxPages;
      if (flags & 1) max = Math.min(leb(buf, q)[0], maxPages);
      max = Math.max(max, min);
      const body = [1, 1, ...uleb(min), ...uleb(max)];
      const section = Uint8Array.from([5, ...uleb(body.length), ...body]);
      const out = new Uint8Array(buf.length - (start + size - at) + section.length);
      out.set(buf.subarray(0, at), 0);
      out.set(section, at);
      out.set(buf.subarray(start + size), at + section.length);
      return out;
    }
    at = start + size;
  }
  return bytes;
}
W.Module = new Proxy(W.Module, { construct(target, args, newTarget) { return Reflect.construct(target, [capped(args[0]), ...args.slice(1)], newTarget); } });
W.Instance = new Proxy(W.Instance, {
  construct(target, args, newTarget) {
    const instance = Reflect.construct(target, args, newTarget);
    if (instance.exports && instance.exports.memory instanceof W.Memory) globalThis.__gitenvWasmMemory = instance.exports.memory;
    return instance;
  },
});
(async () => {
  if (workerData.tsx) (await import(workerData.tsx)).register();
  const entry = await import(workerData.entry);
  if (typeof entry.serveSolves === 'function') entry.serveSolves();
})().catch((err) => {
  require('node:worker_threads').parentPort.postMessage({ type: 'crashed', reason: 'the solver thread did not start: ' + (err && err.stack || err) });
  process.exit(1);
});
`;

/** One thread and the solve it runs. */
class Slot {
  readonly worker: Worker;
  dead = false;
  /** WASM memory after the last solve. */
  memoryBytes = 0;
  private current?: { id: number; settle: (err: Error | undefined, result?: { packages?: SolvedJson[]; message?: string }) => void; serve: FetchServer };
  private nextId = 0;

  constructor(options: SolvePoolOptions) {
    const maxPages = Math.max(1, Math.floor((options.memoryMb * 1024 * 1024) / PAGE));
    this.worker = new Worker(BOOTSTRAP, {
      eval: true,
      workerData: { ...threadEntry(import.meta.url, './solve-worker.ts'), [SOLVE_WORKER_FLAG]: true, maxPages, memoryMb: options.memoryMb },
      // The JavaScript heap of the thread holds little (requests, replies on their way in): the same cap.
      resourceLimits: { maxOldGenerationSizeMb: Math.max(256, Math.min(options.memoryMb, 2048)) },
      stdout: false,
      stderr: false,
    });
    this.worker.on('message', (msg: FromWorker) => this.onMessage(msg));
    this.worker.on('error', (err: Error) => this.fail(`the solver thread failed: ${err.message}`));
    this.worker.on('exit', (code) => this.fail(`the solver thread exited (code ${code})`));
  }

  run(job: SolveJob, serve: FetchServer, timeoutMs: number): Promise<SolvedJson[]> {
    this.worker.ref();
    return new Promise<SolvedJson[]>((resolve, reject) => {
      const id = this.nextId++;
      const timer = setTimeout(() => {
        this.fail(`no answer from the solver after ${Math.round(timeoutMs / 1000)} s (GITENV_SOLVER_TIMEOUT)`);
        void this.worker.terminate();
      }, timeoutMs);
      this.current = {
        id,
        serve,
        settle: (err, result) => {
          clearTimeout(timer);
          this.current = undefined;
          this.worker.unref();
          if (err) reject(err);
          else if (result?.packages) resolve(result.packages);
          else reject(new Error(result?.message ?? 'the solver gave no answer'));
        },
      };
      this.worker.postMessage({ type: 'solve', id, ...job } satisfies ToWorker);
    });
  }

  private fail(reason: string): void {
    const first = !this.dead;
    this.dead = true;
    if (this.current) this.current.settle(new SolverCrash(reason));
    if (first) void this.worker.terminate();
  }

  private onMessage(msg: FromWorker): void {
    const current = this.current;
    switch (msg.type) {
      case 'fetch':
        if (!current) return;
        current.serve(msg.request).then(
          (reply) => this.post({ type: 'fetched', req: msg.req, ...reply }, reply.body ? [reply.body] : []),
          (err: unknown) => this.post({ type: 'fetch-failed', req: msg.req, message: err instanceof Error ? err.message : String(err) }),
        );
        return;
      case 'solved':
      case 'unsolvable':
        this.memoryBytes = msg.memoryBytes;
        if (current?.id === msg.id) current.settle(undefined, msg.type === 'solved' ? { packages: msg.packages } : { message: msg.message });
        return;
      case 'crashed':
        this.fail(msg.reason);
        return;
    }
  }

  private post(msg: ToWorker, transfer: ArrayBuffer[] = []): void {
    if (!this.dead) this.worker.postMessage(msg, transfer);
  }
}

export class SolvePool {
  private readonly idle: Slot[] = [];
  private running = 0;
  private readonly queue: (() => void)[] = [];
  private closed = false;

  constructor(readonly options: SolvePoolOptions) {}

  /** Solves `job` in a thread; rejects with the solver's explanation (a string) or a SolverCrash. */
  async solve(job: SolveJob, serve: FetchServer): Promise<SolvedJson[]> {
    if (this.closed) throw new Error('the solve pool is closed');
    if (this.running >= this.options.jobs) await new Promise<void>((r) => this.queue.push(r));
    this.running++;
    let slot = this.idle.pop();
    while (slot?.dead) slot = this.idle.pop();
    slot ??= new Slot(this.options);
    try {
      return await slot.run(job, serve, this.options.timeoutMs);
    } finally {
      // A thread whose memory grew past half the limit is not given another environment: WASM
      // memory never shrinks, and the next solve should have the whole limit.
      // The thread has ended before the next one may start: two of them, each with its WASM memory,
      // would hold twice what `jobs` threads should (a conda-forge-sized solve grows one to 1 GB).
      if (!slot.dead && !this.closed && slot.memoryBytes < (this.options.memoryMb * 1024 * 1024) / 2) this.idle.push(slot);
      else await slot.worker.terminate().catch(() => undefined);
      this.running--;
      this.queue.shift()?.();
    }
  }

  /**
   * Starts a thread ahead of the first solve, so that its start (loading the bundle, compiling the
   * WASM module) overlaps with what comes before (fetching the repository). Idle, it keeps nobody alive.
   */
  warm(): void {
    if (this.closed || this.idle.length > 0 || this.running > 0) return;
    const slot = new Slot(this.options);
    slot.worker.unref();
    this.idle.push(slot);
  }

  /** Ends the idle threads (a busy one ends when its solve does). */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.idle.splice(0).map((s) => s.worker.terminate()));
  }
}
