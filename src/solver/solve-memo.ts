/**
 * Answers of earlier solves, kept on disk beside the repodata cache. A solve is a function of its
 * inputs: the specs, the platform and its virtual packages, the channels, the exact bytes of every
 * repodata the solver was served, and the solver itself (gitenv's version and this file's
 * revision). When all of them are the same as in an earlier run, so is the answer: a nightly
 * resolve over unchanged channels does not solve again. Failures are never kept.
 *
 * Each answer is a JSON file named by the sha256 of its inputs, which it repeats (a file that does
 * not carry the key it is named by is ignored). Files older than MAX_AGE_DAYS are removed.
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { PackageRecord, VirtualPackage } from '../conda/types.js';
import { VERSION } from '../version.js';

/** Bumped whenever the solver's answers may change without gitenv's version changing. */
const REVISION = 1;
const MAX_AGE_DAYS = 14;

export interface MemoInputs {
  specs: readonly string[];
  platform: string;
  virtualPackages: readonly VirtualPackage[];
  channels: readonly string[];
  /** Every repodata served: its URL and the sha256 of its bytes. */
  repodata: readonly { url: string; sha256: string }[];
}

interface MemoFile {
  key: string;
  records: PackageRecord[];
}

export class SolveMemo {
  private swept = false;
  private readonly hashes = new WeakMap<Uint8Array, string>();

  constructor(private readonly dir: string) {}

  /** The sha256 of a repodata body, computed once per body. */
  bodyHash(body: Uint8Array): string {
    let h = this.hashes.get(body);
    if (!h) this.hashes.set(body, (h = createHash('sha256').update(body).digest('hex')));
    return h;
  }

  key(inputs: MemoInputs): string {
    const canonical = JSON.stringify({
      gitenv: VERSION,
      revision: REVISION,
      prune: process.env.GITENV_SOLVER_PRUNE ?? '',
      specs: inputs.specs,
      platform: inputs.platform,
      virtualPackages: inputs.virtualPackages.map((v) => [v.name, v.version, v.build]),
      channels: inputs.channels,
      repodata: [...inputs.repodata].sort((a, b) => a.url.localeCompare(b.url)).map((r) => [r.url, r.sha256]),
    });
    return createHash('sha256').update(canonical).digest('hex');
  }

  /** The answer kept for `key`, if any (a damaged or foreign file counts as none). */
  async get(key: string): Promise<PackageRecord[] | undefined> {
    const file = path.join(this.dir, `${key}.json`);
    try {
      const parsed = JSON.parse(await fs.readFile(file, 'utf8')) as Partial<MemoFile>;
      if (parsed.key !== key || !Array.isArray(parsed.records)) return undefined;
      // Not touched: a run that only reads answers leaves the cache as it was (nothing to save again).
      return parsed.records;
    } catch {
      return undefined;
    }
  }

  /** Keeps an answer (atomically; a cache that cannot be written costs the next run a solve, no more). */
  async put(key: string, records: PackageRecord[]): Promise<void> {
    try {
      await fs.mkdir(this.dir, { recursive: true });
      const file = path.join(this.dir, `${key}.json`);
      const tmp = `${file}.${process.pid}.tmp`;
      await fs.writeFile(tmp, JSON.stringify({ key, records } satisfies MemoFile));
      await fs.rename(tmp, file);
      await this.sweep();
    } catch {
      // not kept
    }
  }

  /** Removes answers older than MAX_AGE_DAYS (once per run that writes one). */
  private async sweep(): Promise<void> {
    if (this.swept) return;
    this.swept = true;
    const limit = Date.now() - MAX_AGE_DAYS * 86_400_000;
    for (const name of await fs.readdir(this.dir).catch(() => [] as string[])) {
      if (!/^[0-9a-f]{64}\.json$/.test(name)) continue;
      const file = path.join(this.dir, name);
      const st = await fs.stat(file).catch(() => undefined);
      if (st && st.mtimeMs < limit) await fs.rm(file, { force: true }).catch(() => undefined);
    }
  }
}
