// Preloaded into a deploy child process (`node --import <this file> dist/cli/index.js deploy ...`) by
// the crash tests: SIGKILLs the process at an exact file-system operation, so every kill point is
// reached deterministically, without timing and without a hook in the product's code.
//
// GITENV_RELIABILITY_KILL_AT = JSON {"op": "rename", "match": "/.staging-", "n": 1, "when": "before"}
//   op     one of the wrapped operations below (callback, promise and sync forms alike), or "any"
//   match  a substring of one of the operation's path arguments
//   n      the n-th matching call (1-based) is the one that dies
//   when   "before" (the operation never happens) or "after" (it was done, successfully or not,
//          and nothing after it was), or "stop": SIGSTOP instead of SIGKILL, before the operation,
//          so the parent can start another process while this one holds its locks, then kill it
// The parent sees a SIGKILL exit when the point was reached, a normal exit when it never was.
// GITENV_RELIABILITY_TRACE = a file: every wrapped call is appended to it (to choose kill points).
//
// Threads count too: the installer extracts in worker threads (installer/extract-pool.ts), which
// `--import` does not reach (Node preloads nothing into a worker started from code), so this hook
// has every such worker load it first, and all threads share one count of matching calls.
import fs from 'node:fs';
import path from 'node:path';
import { syncBuiltinESMExports } from 'node:module';
import wt from 'node:worker_threads';

const spec = process.env.GITENV_RELIABILITY_KILL_AT ? JSON.parse(process.env.GITENV_RELIABILITY_KILL_AT) : undefined;
const OPS = ['open', 'rename', 'mkdir', 'link', 'symlink', 'copyFile', 'writeFile', 'appendFile', 'rm', 'unlink', 'rmdir', 'utimes'];

const trace = process.env.GITENV_RELIABILITY_TRACE;
// Opened before anything is wrapped, written with writeSync (never wrapped): tracing cannot recurse.
const traceFd = trace ? fs.openSync(trace, 'a') : undefined;

if (spec || trace) {
  const KEY = 'gitenv-reliability-kill-count';
  const seen = new Int32Array(wt.isMainThread ? new SharedArrayBuffer(4) : wt.getEnvironmentData(KEY));
  if (wt.isMainThread) {
    wt.setEnvironmentData(KEY, seen.buffer);
    const Base = wt.Worker;
    const self = import.meta.url;
    wt.Worker = class extends Base {
      constructor(code, options) {
        if (options?.eval && typeof code === 'string') code = `import(${JSON.stringify(self)}).then(() => {\n${code}\n});`;
        super(code, options);
      }
    };
  }
  const die = () => process.kill(process.pid, spec.when === 'stop' ? 'SIGSTOP' : 'SIGKILL');
  /** True when this call is the chosen one. */
  const chosen = (op, args) => {
    if (traceFd !== undefined)
      fs.writeSync(
        traceFd,
        `${op} ${args
          .filter((a) => typeof a === 'string')
          .map((a) => path.basename(path.dirname(a)) + '/' + path.basename(a))
          .join(' ')}\n`,
      );
    if (!spec || (op !== spec.op && spec.op !== 'any')) return false;
    const hit = args.some((a) => (typeof a === 'string' || a instanceof URL || Buffer.isBuffer(a)) && String(a).includes(spec.match));
    return hit && Atomics.add(seen, 0, 1) + 1 === spec.n;
  };

  for (const op of OPS) {
    const cb = fs[op];
    if (typeof cb === 'function') {
      fs[op] = function (...args) {
        if (!chosen(op, args)) return cb.apply(this, args);
        if (spec.when !== 'after') return die();
        const last = args.length - 1;
        if (typeof args[last] === 'function') {
          const done = args[last];
          args[last] = (...r) => {
            die();
            done(...r);
          };
        }
        return cb.apply(this, args);
      };
    }
    const sync = fs[`${op}Sync`];
    if (typeof sync === 'function') {
      fs[`${op}Sync`] = function (...args) {
        if (!chosen(op, args)) return sync.apply(this, args);
        if (spec.when !== 'after') return die();
        try {
          return sync.apply(this, args);
        } finally {
          die();
        }
      };
    }
    const promised = fs.promises[op];
    if (typeof promised === 'function') {
      fs.promises[op] = async function (...args) {
        if (!chosen(op, args)) return promised.apply(this, args);
        if (spec.when !== 'after') return die();
        try {
          return await promised.apply(this, args);
        } finally {
          die();
        }
      };
    }
  }
  syncBuiltinESMExports();
}
