import path from 'node:path';
import { isMainThread } from 'node:worker_threads';

/**
 * Short paths for bursts of synchronous file-system calls. Every call given a path has the kernel
 * walk it one component at a time; an installer hard linking thousands of files from
 * `<target>/.pkg_cache/<package>/…` to `<target>/<env>/.staging-…/…` walks the components of
 * `<target>` twice per file for nothing. Working from `<target>` (the paths' deepest common
 * directory), both paths lose them: 5,000 links on a tmpfs took 21 ms against 30. (A C program
 * would use `linkat` with directory descriptors; Node has none.)
 *
 * The working directory is the whole process's, so it is changed only around synchronous work, and
 * put back before anything else can run: `enter()` before a burst, `leave()` before any `await`,
 * callback or spawn, and in a `finally`. Every other path the process uses is absolute, which the
 * working directory does not change. Only in the main thread (a worker may not change it), only
 * when every path is absolute and the directory left can be found again, and never when changing
 * directory fails: then the caller keeps its absolute paths.
 */
export class AnchoredPaths {
  private inside = false;
  private broken = false;

  private constructor(
    /** The directory the short paths start from. */
    readonly anchor: string,
    /** The working directory to come back to. */
    private readonly home: string,
  ) {}

  /** For paths under one deepest common directory below `/`; undefined when there is none to gain. */
  static around(paths: readonly string[]): AnchoredPaths | undefined {
    if (!isMainThread || paths.length === 0 || !paths.every((p) => path.isAbsolute(p))) return undefined;
    let home: string;
    try {
      home = process.cwd();
    } catch {
      return undefined; // the working directory is gone: nowhere to come back to
    }
    const split = paths.map((p) => path.resolve(p).split(path.sep).filter(Boolean));
    const common: string[] = [];
    for (let i = 0; split.every((s) => i < s.length - 1 && s[i] === split[0][i]); i++) common.push(split[0][i]);
    if (common.length === 0) return undefined;
    return new AnchoredPaths(path.sep + common.join(path.sep), home);
  }

  /** `abs` (under the anchor) from the anchor: `''` for the anchor itself. */
  short(abs: string): string {
    return path.relative(this.anchor, abs);
  }

  /** Works from the anchor; false (and never again) when it cannot: use absolute paths then. */
  enter(): boolean {
    if (this.inside) return true;
    if (this.broken) return false;
    try {
      process.chdir(this.anchor);
      this.inside = true;
    } catch {
      this.broken = true;
    }
    return this.inside;
  }

  /** Back to the working directory the process had. */
  leave(): void {
    if (!this.inside) return;
    this.inside = false;
    try {
      process.chdir(this.home);
    } catch {
      // It was removed meanwhile: no relative path can mean anything there any more; stay at the
      // anchor rather than fail an install over it, and never come back here.
      this.broken = true;
    }
  }
}
