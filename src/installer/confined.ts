import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { DIR_MODE, linkStaysInside, normalizeRel, unsafePathReason } from './path-safety.js';

/**
 * The installer's one rule for writing into a directory it owns (a staging prefix; see also
 * tar-writer.ts for a cache entry, and docs/installer-differences.md):
 *
 * - every path is normalised (empty and `.` segments dropped) before it is checked, and a path with
 *   `..`, a NUL or an absolute path is refused;
 * - nothing is written whose parent directory's real path (every link on the way followed) is not
 *   inside the root: the parent is resolved when it is first written into, and again after anything
 *   in the root was removed (the only way a directory already resolved can become a link);
 * - links are created without following them (symlink, link and rename never follow the last
 *   component; an existing path is removed first, never written through);
 * - content is never written into an existing inode: a new file is written beside and renamed over
 *   the path (a file of the cache hard linked here stays as it is).
 *
 * The check of a parent and the write after it happen in one synchronous step, so no other write of
 * this process (all go through here) can put a link on the way in between.
 */
export class ConfinedDir {
  private readonly real: string;
  /** Parent directories (relative) known to resolve inside the root. */
  private readonly inside = new Set<string>();
  private readonly tmp: string;
  private tmpMade = false;
  private seq = 0;

  constructor(readonly root: string) {
    fs.mkdirSync(root, { recursive: true, mode: DIR_MODE });
    this.real = fs.realpathSync.native(root);
    this.tmp = path.join(root, `.gitenv-tmp-${randomBytes(4).toString('hex')}`);
  }

  /** `root/rel` for a normalised, relative `rel` (refused otherwise). */
  abs(rel: string): string {
    if (isPlain(rel)) return this.root + path.sep + rel;
    const norm = normalizeRel(rel);
    const reason = unsafePathReason(norm);
    if (reason) throw new Error(`refused to write ${rel}: ${reason}`);
    return path.join(this.root, norm);
  }

  /**
   * Makes sure the directory `relDir` exists and resolves inside the root (made, mode 755, where
   * missing); throws when it resolves elsewhere.
   */
  ensureDir(relDir: string): void {
    if (this.inside.has(relDir)) return;
    const norm = normalizeRel(relDir);
    if (norm === '' || this.inside.has(norm)) return;
    const abs = this.abs(norm);
    const parent = path.posix.dirname(norm);
    if (parent === '.' || this.inside.has(parent)) {
      // The parent resolves inside: a directory made here by mkdir (which never follows a link at its
      // last component, EEXIST for anything already there) is a new, real directory inside too. One
      // system call for the common case of a prefix being built; anything already there is resolved below.
      try {
        fs.mkdirSync(abs, { mode: DIR_MODE });
        this.inside.add(norm);
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
    }
    for (let attempt = 0; ; attempt++) {
      let real: string | undefined;
      try {
        real = fs.realpathSync.native(abs);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || attempt > 0) throw leadsOut(norm, err);
      }
      if (real !== undefined) {
        if (real !== this.real && !real.startsWith(this.real + path.sep)) {
          throw new Error(`refused to write into ${norm}: it leads out of ${this.root} (to ${real}) through links`);
        }
        if (!fs.statSync(real).isDirectory()) throw new Error(`cannot write into ${norm}: not a directory`);
        this.inside.add(norm);
        return;
      }
      // Missing: its parent first (checked the same way), then this one level, never `mkdir -p`
      // (which would follow a link on the way).
      this.ensureDir(path.posix.dirname(norm));
      try {
        fs.mkdirSync(abs, { mode: DIR_MODE });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        // something appeared (a dangling link: realpath still fails, reported on the next round)
      }
    }
  }

  /**
   * A new hard link at `rel` to `source`, in one synchronous step with the check of its parent, when
   * that takes nothing more than the common case needs: `rel` already normalised, its parent known to
   * resolve inside the root, nothing at `rel`. False (nothing done) otherwise, or when the link fails
   * for any reason: the caller then takes the general path (createSync), which says why. `via` is
   * the root as the caller's working directory reaches it (anchored-paths.ts), when not `root` itself;
   * `parent`, the directory of `rel` (`.` at the top), when the caller has it already.
   */
  tryLinkNew(rel: string, source: string, via: string = this.root, parent?: string): boolean {
    if (!isPlain(rel)) return false;
    if (parent === undefined) {
      const slash = rel.lastIndexOf('/');
      parent = slash < 0 ? '.' : rel.slice(0, slash);
    }
    if (parent !== '.' && !this.inside.has(parent)) return false;
    try {
      fs.linkSync(source, via === '' ? rel : via + path.sep + rel);
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Creates `rel` with `make` (a symlink, a hard link, a rename: calls that do not follow the last
   * component) after checking its parent; whatever is already at `rel` is removed first and `make`
   * runs again.
   */
  createSync(rel: string, make: (abs: string) => void): void {
    const abs = this.abs(rel);
    const parent = path.posix.dirname(isPlain(rel) ? rel : normalizeRel(rel));
    this.ensureDir(parent);
    try {
      make(abs);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' && (err as NodeJS.ErrnoException).code !== 'EISDIR' && (err as NodeJS.ErrnoException).code !== 'ENOTEMPTY') throw err;
      this.removeSync(rel);
      this.ensureDir(parent);
      make(abs);
    }
  }

  /** Removes `rel` (a link itself, never what it points to); every parent is resolved again afterwards. */
  removeSync(rel: string): void {
    fs.rmSync(this.abs(rel), { recursive: true, force: true });
    this.inside.clear();
  }

  /**
   * Writes a new file at `rel`: `fill` writes it at a temporary path of the root (any way it likes,
   * asynchronously), which is then renamed over `rel` in one synchronous step with the check of its parent.
   */
  async writeNew(rel: string, fill: (tmpAbs: string) => Promise<void>): Promise<void> {
    this.abs(rel); // a path refused is refused before anything is written
    const tmp = this.tmpPath();
    try {
      await fill(tmp);
      this.createSync(rel, (abs) => fs.renameSync(tmp, abs));
    } catch (err) {
      fs.rmSync(tmp, { force: true });
      throw err;
    }
  }

  /** writeNew, with a `fill` that writes synchronously. */
  writeNewSync(rel: string, fill: (tmpAbs: string) => void): void {
    this.abs(rel);
    const tmp = this.tmpPath();
    try {
      fill(tmp);
      this.createSync(rel, (abs) => fs.renameSync(tmp, abs));
    } catch (err) {
      fs.rmSync(tmp, { force: true });
      throw err;
    }
  }

  /** A new path in the root's temporary directory (made on first use). */
  private tmpPath(): string {
    if (!this.tmpMade) {
      fs.mkdirSync(this.tmp, { recursive: true, mode: 0o700 });
      this.tmpMade = true;
    }
    return path.join(this.tmp, String(this.seq++));
  }

  /** Removes the temporary directory (call once every write is done). */
  close(): void {
    if (this.tmpMade) fs.rmSync(this.tmp, { recursive: true, force: true });
    this.tmpMade = false;
  }

  /** Whether the soft link `rel` resolves inside the root once every link on its way is followed. */
  async linkInside(rel: string): Promise<boolean> {
    try {
      const real = fs.realpathSync.native(this.abs(rel));
      return real === this.real || real.startsWith(this.real + path.sep);
    } catch {
      return linkStaysInside(this.root, normalizeRel(rel)); // dangling: walk it by hand
    }
  }
}

/** Already normalised and free of `..`, NUL and backslashes: the common case, checked with one test. */
const NEEDS_CARE = /(^|\/)\.\.?(\/|$)|\/\/|^\/|\/$|\\|\0/;
function isPlain(rel: string): boolean {
  return rel !== '' && !NEEDS_CARE.test(rel);
}

function leadsOut(rel: string, err: unknown): Error {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return new Error(`refused to write into ${rel}: a link on the way points to nothing`);
  if (code === 'ELOOP') return new Error(`refused to write into ${rel}: a loop of links`);
  return err as Error;
}
