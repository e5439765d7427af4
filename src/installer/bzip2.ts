import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import bz2 from 'unbzip2-stream';
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
  if (!bzip2) {
    const file = fs.createReadStream(archive, { highWaterMark: 1 << 20 });
    const decoded = file.pipe(bz2());
    file.on('error', (err) => decoded.destroy(err));
    // unbzip2-stream is an old-style stream: piped into a PassThrough, it can be iterated; a reader that stops early
    // (at the end of the tar) destroys the wrapper, which stops the decoder and closes the file.
    const out = new PassThrough({ highWaterMark: 1 << 20 });
    decoded.on('error', (err: Error) => out.destroy(err));
    decoded.pipe(out);
    out.on('close', () => {
      decoded.destroy();
      file.destroy();
    });
    return out;
  }
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
