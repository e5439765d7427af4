/**
 * The on-disk repodata cache: one body and one small metadata file per URL, keyed by a hash of
 * the URL (which never carries credentials). The metadata holds only the validators the server
 * gave (ETag, Last-Modified), so an unchanged channel costs a 304 on the next run.
 */
import { randomBytes } from 'node:crypto';
import { sha256Hex } from '../util/files.js';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

export interface CacheEntry {
  url: string;
  etag?: string;
  lastModified?: string;
  size: number;
}

export class RepodataCache {
  constructor(readonly dir: string) {}

  private base(url: string): string {
    return path.join(this.dir, sha256Hex(url).slice(0, 40));
  }

  /** The validators and body stored for `url`, or undefined when absent or incomplete. */
  async read(url: string): Promise<{ entry: CacheEntry; body: Buffer } | undefined> {
    const base = this.base(url);
    try {
      const entry = JSON.parse(await fs.readFile(`${base}.json`, 'utf8')) as CacheEntry;
      if (entry.url !== url) return undefined;
      const body = await fs.readFile(`${base}.body`);
      return body.length === entry.size ? { entry, body } : undefined;
    } catch {
      return undefined;
    }
  }

  /** Only the metadata: what a conditional request needs. */
  async validators(url: string): Promise<CacheEntry | undefined> {
    try {
      const entry = JSON.parse(await fs.readFile(`${this.base(url)}.json`, 'utf8')) as CacheEntry;
      return entry.url === url ? entry : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * Stores a body and its validators. The body is renamed into place before the metadata, so a
   * reader that finds metadata finds its body (and checks its size, for two writers racing).
   */
  async write(entry: CacheEntry, body: Uint8Array): Promise<void> {
    await fs.mkdir(this.dir, { recursive: true });
    const base = this.base(entry.url);
    const tmp = `${base}.${randomBytes(6).toString('hex')}.tmp`;
    await fs.writeFile(tmp, body);
    await fs.rename(tmp, `${base}.body`);
    await fs.writeFile(`${tmp}.json`, JSON.stringify(entry));
    await fs.rename(`${tmp}.json`, `${base}.json`);
  }
}
