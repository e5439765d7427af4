/**
 * The repodata records behind a solve. The WASM solver returns only part of a record (no
 * constrains, license, timestamp, noarch), so the full ones are looked up in the repodata bodies
 * the fetch wrapper served during that solve. Only the solved records are parsed: a full
 * JSON.parse of a large channel would cost more than the solve itself.
 */
import { decompress as zstdDecompress } from 'fzstd';

/** The fields of a repodata.json record gitenv reads. */
export interface RepodataRecordJson {
  name: string;
  version: string;
  build: string;
  build_number?: number;
  depends?: string[];
  constrains?: string[];
  license?: string;
  timestamp?: number;
  noarch?: string | boolean;
  md5?: string;
  sha256?: string;
  size?: number;
}

const VARIANT = /^(.*)\/repodata\.json(\.zst|\.bz2)?$/;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN = 0x7b;
const CLOSE = 0x7d;

export class RecordIndex {
  /** `<channel>/<subdir>` → the body served and how it is compressed. */
  private readonly bodies = new Map<string, { body: Uint8Array; encoding: string }>();

  /** Keeps a served repodata body (a listener for FetchWrapper.onRepodata). */
  readonly add = (url: string, body: Uint8Array): void => {
    const m = VARIANT.exec(url);
    if (m) this.bodies.set(m[1], { body, encoding: m[2] ?? '' });
  };

  clear(): void {
    this.bodies.clear();
  }

  /** The full record of `fn` in `<channel>/<subdir>`, or undefined when it cannot be found. */
  lookup(channel: string, subdir: string, fn: string): RepodataRecordJson | undefined {
    const entry = this.bodies.get(`${channel}/${subdir}`);
    if (!entry) return undefined;
    if (entry.encoding === '.zst') {
      entry.body = zstdDecompress(entry.body);
      entry.encoding = '';
    }
    if (entry.encoding !== '') return undefined; // bz2: not worth a decoder here
    const buf = Buffer.from(entry.body.buffer, entry.body.byteOffset, entry.body.byteLength);
    const needle = `"${fn}"`;
    let start = -1;
    // The file name as a key (`"fn": {`), not as a value (e.g. in `removed`).
    for (let at = buf.indexOf(needle); at >= 0 && start < 0; at = buf.indexOf(needle, at + 1)) {
      const open = buf.indexOf(OPEN, at + needle.length);
      if (open >= 0 && open - at < needle.length + 64 && /^\s*:\s*$/.test(buf.subarray(at + needle.length, open).toString('latin1'))) start = open;
    }
    const end = start < 0 ? -1 : objectEnd(buf, start);
    if (end < 0) return undefined;
    try {
      return JSON.parse(buf.subarray(start, end + 1).toString('utf8')) as RepodataRecordJson;
    } catch {
      return undefined;
    }
  }
}

/** The offset of the `}` that closes the object opening at `start` (strings skipped), or -1. */
function objectEnd(buf: Buffer, start: number): number {
  let depth = 0;
  for (let i = start; i < buf.length; i++) {
    const c = buf[i];
    if (c === QUOTE) {
      for (i++; i < buf.length && buf[i] !== QUOTE; i++) if (buf[i] === BACKSLASH) i++;
    } else if (c === OPEN) depth++;
    else if (c === CLOSE && --depth === 0) return i;
  }
  return -1;
}
