/**
 * One pass over the bytes of a repodata.json that finds, for every record of its `packages` and
 * `packages.conda` tables, where its file name and its record are and which package it names,
 * without making a JavaScript object of it: a conda-forge-sized repodata is hundreds of megabytes,
 * which `JSON.parse` would turn into several gigabytes of objects. The records are parsed later,
 * one name at a time, from their own bytes (repodata-pruner.ts).
 *
 * The grammar is checked as it goes (brackets, commas, colons, strings, numbers and literals), so a
 * body that is not JSON is refused here with the byte it goes wrong at; what a string's escapes
 * mean is checked only for the strings that are decoded (keys, names, and records when parsed).
 */

/** The body is not the JSON a repodata.json must be. */
export class RepodataSyntaxError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(`repodata is not valid JSON: ${message} at byte ${offset}`);
    this.name = 'RepodataSyntaxError';
  }
}

/** The two tables of records. */
export type Table = 'packages' | 'packages.conda';

/** Where one record is: its table, its key (the file name, quotes included) and its value. */
export interface ScannedRecord {
  table: Table;
  keyStart: number;
  keyEnd: number;
  valueStart: number;
  valueEnd: number;
}

export interface ScanResult {
  /** Offsets of records by the name they give (lower case), in the order of the body. */
  byName: Map<string, number[]>;
  /** `info` and `repodata_version` (and any other top-level key but the tables), parsed. */
  meta: Record<string, unknown>;
}

/** Numbers per record in a `byName` list: table (0 packages, 1 packages.conda), keyStart, keyEnd, valueStart, valueEnd. */
export const STRIDE = 5;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const MAX_DEPTH = 512;
const NAME = Buffer.from('"name"');

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

function describe(c: number | undefined): string {
  if (c === undefined) return 'unexpected end of data';
  return c >= 0x20 && c < 0x7f ? `unexpected '${String.fromCharCode(c)}'` : `unexpected byte 0x${c.toString(16).padStart(2, '0')}`;
}

class Scanner {
  constructor(readonly buf: Buffer) {}

  fail(at: number, what?: string): never {
    throw new RepodataSyntaxError(what ?? describe(at < this.buf.length ? this.buf[at] : undefined), at);
  }

  ws(at: number): number {
    const b = this.buf;
    while (at < b.length && isSpace(b[at])) at++;
    return at;
  }

  expect(at: number, c: number): number {
    at = this.ws(at);
    if (b(this.buf, at) !== c) this.fail(at, at >= this.buf.length ? undefined : `${describe(this.buf[at])}, expected '${String.fromCharCode(c)}'`);
    return at + 1;
  }

  /** `at` is on the opening quote; returns the offset after the closing one. */
  string(at: number): number {
    const b = this.buf;
    let i = at + 1;
    for (;;) {
      const q = b.indexOf(QUOTE, i);
      if (q < 0) this.fail(at, 'unterminated string');
      // The quote ends the string unless an odd number of backslashes stands before it.
      let n = 0;
      while (b[q - 1 - n] === BACKSLASH) n++;
      if (n % 2 === 0) return q + 1;
      i = q + 1;
    }
  }

  /** A string's value (the slice from its opening to after its closing quote). */
  decode(start: number, end: number): string {
    const b = this.buf;
    if (!this.escaped(start, end)) return b.toString('utf8', start + 1, end - 1);
    try {
      return JSON.parse(b.toString('utf8', start, end)) as string;
    } catch {
      return this.fail(start, 'invalid escape in string');
    }
  }

  /** Does the string at `start..end` hold a backslash? */
  escaped(start: number, end: number): boolean {
    const b = this.buf;
    for (let i = start + 1; i < end - 1; i++) if (b[i] === BACKSLASH) return true;
    return false;
  }

  /** Any value at `at` (after white space); returns the offset after it. */
  value(at: number, depth = 0): number {
    at = this.ws(at);
    const c = this.buf[at];
    if (c === QUOTE) return this.string(at);
    if (c === 0x7b) return this.object(at, depth + 1, (_k, _ke, v) => this.value(v, depth + 1));
    if (c === 0x5b) return this.array(at, depth + 1);
    if (c === 0x74) return this.literal(at, 'true');
    if (c === 0x66) return this.literal(at, 'false');
    if (c === 0x6e) return this.literal(at, 'null');
    if (c === 0x2d || (c >= 0x30 && c <= 0x39)) return this.number(at);
    return this.fail(at);
  }

  literal(at: number, word: string): number {
    for (let i = 0; i < word.length; i++) if (this.buf[at + i] !== word.charCodeAt(i)) this.fail(at + i);
    return at + word.length;
  }

  number(at: number): number {
    const b = this.buf;
    const start = at;
    if (b[at] === 0x2d) at++;
    const digits = (): void => {
      const from = at;
      while (b[at] >= 0x30 && b[at] <= 0x39) at++;
      if (at === from) this.fail(at, `${describe(b[at])} in number`);
    };
    if (b[at] === 0x30) at++;
    else digits();
    if (b[at] === 0x2e) {
      at++;
      digits();
    }
    if (b[at] === 0x65 || b[at] === 0x45) {
      at++;
      if (b[at] === 0x2b || b[at] === 0x2d) at++;
      digits();
    }
    if (at === start) this.fail(at);
    return at;
  }

  array(at: number, depth: number): number {
    if (depth > MAX_DEPTH) this.fail(at, `nested deeper than ${MAX_DEPTH}`);
    at = this.ws(at + 1);
    if (this.buf[at] === 0x5d) return at + 1;
    for (;;) {
      at = this.ws(this.value(at, depth));
      const c = this.buf[at];
      if (c === 0x5d) return at + 1;
      if (c !== 0x2c) this.fail(at, at >= this.buf.length ? undefined : `${describe(c)}, expected ',' or ']'`);
      at++;
    }
  }

  /**
   * An object at `at` (on its brace): `member(keyStart, keyEnd, valueAt)` reads each value and
   * returns the offset after it. Returns the offset after the closing brace.
   */
  object(at: number, depth: number, member: (keyStart: number, keyEnd: number, valueAt: number) => number): number {
    if (depth > MAX_DEPTH) this.fail(at, `nested deeper than ${MAX_DEPTH}`);
    at = this.ws(at + 1);
    if (this.buf[at] === 0x7d) return at + 1;
    for (;;) {
      at = this.ws(at);
      if (this.buf[at] !== QUOTE) this.fail(at, at >= this.buf.length ? undefined : `${describe(this.buf[at])}, expected a key`);
      const keyStart = at;
      const keyEnd = this.string(at);
      at = this.ws(member(keyStart, keyEnd, this.expect(keyEnd, 0x3a)));
      const c = this.buf[at];
      if (c === 0x7d) return at + 1;
      if (c !== 0x2c) this.fail(at, at >= this.buf.length ? undefined : `${describe(c)}, expected ',' or '}'`);
      at++;
    }
  }

  /** Is the key at `start..end` exactly `"name"` (escapes would make it something to decode)? */
  isKey(start: number, end: number, raw: Buffer, text: string): boolean {
    if (end - start === raw.length && this.buf.compare(raw, 0, raw.length, start, end) === 0) return true;
    return end - start > raw.length && this.escaped(start, end) && this.decode(start, end) === text;
  }
}

function b(buf: Buffer, at: number): number | undefined {
  return at < buf.length ? buf[at] : undefined;
}

/** Scans a repodata.json body (see the top of this file). */
export function scanRepodata(body: Uint8Array): ScanResult {
  const buf = Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const s = new Scanner(buf);
  const byName = new Map<string, number[]>();
  const meta: Record<string, unknown> = {};
  let start = s.ws(0);
  // A UTF-8 byte order mark is not JSON, but some servers write one.
  if (buf[start] === 0xef && buf[start + 1] === 0xbb && buf[start + 2] === 0xbf) start = s.ws(start + 3);
  if (buf[start] !== 0x7b) s.fail(start, start >= buf.length ? 'empty body' : `${describe(buf[start])}, expected '{' (a repodata.json is an object)`);
  const end = s.object(start, 1, (keyStart, keyEnd, valueAt) => {
    const key = s.decode(keyStart, keyEnd);
    if (key !== 'packages' && key !== 'packages.conda') {
      const valueEnd = s.value(valueAt, 1);
      if (key !== '__proto__') meta[key] = JSON.parse(buf.toString('utf8', s.ws(valueAt), valueEnd));
      return valueEnd;
    }
    const table = key === 'packages' ? 0 : 1;
    const at = s.ws(valueAt);
    if (buf[at] !== 0x7b) {
      // `"packages": null` and the like: no records (JSON.parse would give no entries either).
      if (buf[at] === 0x6e) return s.literal(at, 'null');
      return s.fail(at, `${describe(buf[at])}, expected '{' for "${key}"`);
    }
    return s.object(at, 2, (fnStart, fnEnd, recordAt) => {
      const valueStart = s.ws(recordAt);
      if (buf[valueStart] !== 0x7b) s.fail(valueStart, `${describe(buf[valueStart])}, expected a record object`);
      let name: string | undefined;
      const valueEnd = s.object(valueStart, 3, (k, ke, v) => {
        if (!s.isKey(k, ke, NAME, 'name')) return s.value(v, 3);
        const vs = s.ws(v);
        const ve = s.value(vs, 3);
        name = buf[vs] === QUOTE ? s.decode(vs, ve) : String(JSON.parse(buf.toString('utf8', vs, ve)));
        return ve;
      });
      const lower = String(name).toLowerCase();
      let list = byName.get(lower);
      if (!list) byName.set(lower, (list = []));
      list.push(table, fnStart, fnEnd, valueStart, valueEnd);
      return valueEnd;
    });
  });
  const rest = s.ws(end);
  if (rest < buf.length) s.fail(rest, `${describe(buf[rest])} after the end of the repodata object`);
  return { byName, meta };
}
