import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import bitIterator from 'unbzip2-stream/lib/bit_iterator.js';
import bz2 from 'unbzip2-stream/lib/bzip2.js';
import { CommandError, tailLines } from '../util/errors.js';

let onPath: Promise<string | undefined> | undefined;

/** The system's `bzip2` (its absolute path), looked up on PATH once; undefined when there is none. */
export function systemBzip2(): Promise<string | undefined> {
  onPath ??= findOnPath('bzip2');
  return onPath;
}

async function findOnPath(name: string): Promise<string | undefined> {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    try {
      await fs.promises.access(candidate, fs.constants.X_OK);
      if ((await fs.promises.stat(candidate)).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * The decompressed bytes of a `.tar.bz2` archive. With `bzip2` (a path to the system's bzip2) it
 * decompresses, natively and on the other core, many times faster than the pure-JS decoder, which is
 * used when `bzip2` is undefined. A bzip2 that fails (damaged data) ends the stream with a CommandError
 * (arguments, exit code, stderr tail); a stream destroyed early (a refused entry) stops the process.
 */
export function bunzip2(archive: string, bzip2: string | undefined): Readable {
  if (!bzip2) return jsBunzip2(archive);
  const args = ['-dc', '--', archive];
  const child = spawn(bzip2, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const out = new PassThrough({ highWaterMark: 1 << 20 });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (text: string) => {
    stderr = (stderr + text).slice(-8192);
  });
  // Ended only once the exit code says the data was whole: a truncated stream must not look complete.
  child.stdout.pipe(out, { end: false });
  child.on('error', (err) => out.destroy(err));
  child.on('close', (code, signal) => {
    if (code === 0) out.end();
    else out.destroy(new CommandError(bzip2, args, code, tailLines(stderr), `bzip2 could not decompress ${archive}${signal ? ` (${signal})` : ''}`));
  });
  out.on('close', () => {
    if (child.exitCode === null && child.signalCode === null) child.kill();
  });
  return out;
}

/**
 * The pure-JS decoder (unbzip2-stream's), one block per read: a reader that stops early (at the end of
 * the tar) stops it, where unbzip2-stream's own stream decodes every block left at once when its
 * input ends (a small archive may hold gigabytes after its tar). Concatenated streams are read on.
 */
function jsBunzip2(archive: string): Readable {
  let bits: ReturnType<typeof bitIterator> | undefined;
  let total = 0;
  let blockSize = 0;
  let crc: number | null = null;
  return new Readable({
    highWaterMark: 1 << 20,
    read() {
      void (async () => {
        if (!bits) {
          const data = await fs.promises.readFile(archive);
          total = data.length;
          let given = false;
          bits = bitIterator(() => {
            if (given) throw new Error('bzip2 data ends inside a block');
            given = true;
            return data;
          });
        }
        for (;;) {
          if (bits.bytesRead >= total) {
            if (blockSize !== 0) throw new Error('bzip2 data ended prematurely');
            this.push(null);
            return;
          }
          if (blockSize === 0) {
            blockSize = bz2.header(bits);
            crc = 0;
            continue;
          }
          // a block decodes to at most ~46 MB (runs of one byte); gathered into a growing buffer
          let out = Buffer.allocUnsafe(1 << 20);
          let n = 0;
          const put = (b: number): void => {
            if (n === out.length) {
              const bigger = Buffer.allocUnsafe(out.length * 2);
              out.copy(bigger);
              out = bigger;
            }
            out[n++] = b;
          };
          crc = bz2.decompress(bits, put, new Int32Array(100_000 * blockSize), 100_000 * blockSize, crc);
          if (crc === null) {
            blockSize = 0; // the end of one stream: another may follow
            continue;
          }
          this.push(out.subarray(0, n));
          return;
        }
      })().catch((err: unknown) => this.destroy(err instanceof Error ? err : new Error(String(err))));
    },
  });
}
