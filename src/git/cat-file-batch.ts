/**
 * One `git cat-file --batch` kept open for the reads of a phase: a deploy reads objects four times
 * (labels, env.spec, env.lock, ...), and each git started costs a few milliseconds to fork and exec
 * (more as the process grows), where the read itself takes a fraction of one. Requests go one after
 * another; the answers are `<sha> <type> <size>\n<data>\n` or `<name> missing\n`.
 *
 * git-command-manager.ts closes it before any command that may change the repository, so a read
 * never sees objects or refs older than the last fetch. When the process fails, the caller reads
 * with a git of its own instead.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import type { Socket } from 'node:net';

export interface BatchObject {
  sha: string;
  type: string;
  data: Buffer;
}

export class CatFileBatch {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly chunks: Buffer[] = [];
  private buffered = 0;
  private wake: (() => void) | undefined;
  private failure: Error | undefined;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(gitPath: string, gitDir: string, env: NodeJS.ProcessEnv) {
    this.child = spawn(gitPath, ['--git-dir', gitDir, 'cat-file', '--batch'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    this.child.stdout.on('data', (b: Buffer) => {
      this.chunks.push(b);
      this.buffered += b.length;
      this.notify();
    });
    this.child.stderr.on('data', (b: Buffer) => {
      stderr = (stderr + b.toString('utf8')).slice(-4096);
    });
    this.child.stdin.on('error', () => undefined); // reported as the process's end
    this.child.on('error', (err) => this.fail(err));
    this.child.on('close', (code) => this.fail(new Error(`git cat-file --batch exited (${code ?? 'signal'})${stderr ? `: ${stderr.trim()}` : ''}`)));
    // Kept open between reads, it must not keep the process alive (during a read, it must).
    this.hold(false);
  }

  private hold(on: boolean): void {
    const streams = [this.child.stdout, this.child.stderr] as unknown as Socket[];
    if (on) {
      this.child.ref();
      for (const s of streams) s.ref?.();
    } else {
      this.child.unref();
      for (const s of [...streams, this.child.stdin as unknown as Socket]) s.unref?.();
    }
  }

  /** The objects named (`<rev>:<path>` or a sha), undefined for each missing one. */
  read(names: string[]): Promise<Map<string, BatchObject | undefined>> {
    const next = this.queue.then(() => this.readNow(names));
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** Ends the process (its stdin closed; it exits on its own). */
  close(): void {
    this.fail(new Error('closed'));
    this.child.stdin.end();
  }

  get failed(): boolean {
    return this.failure !== undefined;
  }

  private fail(err: Error): void {
    this.failure ??= err;
    this.notify();
  }

  private notify(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  private async readNow(names: string[]): Promise<Map<string, BatchObject | undefined>> {
    if (this.failure) throw this.failure;
    if (names.some((n) => /[\n\r\0]/.test(n))) throw new Error('an object name with a line break');
    this.hold(true);
    try {
      this.child.stdin.write(names.map((n) => n + '\n').join(''));
      return await this.answers(names);
    } finally {
      this.hold(false);
    }
  }

  private async answers(names: string[]): Promise<Map<string, BatchObject | undefined>> {
    const found = new Map<string, BatchObject | undefined>();
    for (const name of names) {
      const header = (await this.take(await this.lineLength())).toString('utf8');
      await this.take(1); // the newline
      const m = /^([0-9a-f]+) (\w+) (\d+)$/.exec(header);
      if (!m) {
        found.set(name, undefined); // "<name> missing" or "ambiguous"
        continue;
      }
      const data = await this.take(Number(m[3]));
      await this.take(1);
      found.set(name, { sha: m[1], type: m[2], data });
    }
    return found;
  }

  /** Waits until `test` holds for what is buffered (or the process failed). */
  private async until(test: () => boolean): Promise<void> {
    while (!test()) {
      if (this.failure) throw this.failure;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  /** The bytes before the next newline, once one has arrived. */
  private async lineLength(): Promise<number> {
    let at = -1;
    await this.until(() => {
      let offset = 0;
      for (const c of this.chunks) {
        const i = c.indexOf(0x0a);
        if (i >= 0) {
          at = offset + i;
          return true;
        }
        offset += c.length;
      }
      return false;
    });
    return at;
  }

  /** The next `n` bytes, once they have arrived. */
  private async take(n: number): Promise<Buffer> {
    await this.until(() => this.buffered >= n);
    const all = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks);
    const out = Buffer.from(all.subarray(0, n));
    this.chunks.length = 0;
    if (all.length > n) this.chunks.push(all.subarray(n));
    this.buffered -= n;
    return out;
  }
}
