/**
 * A MessagePack decoder, enough for sharded repodata (CEP-16): maps, arrays, strings, binary,
 * integers, floats, booleans and nil. Extension types are refused. Binary values come back as
 * Uint8Array; 64-bit integers beyond 2^53 as numbers (repodata holds none that large).
 *
 * A conda-forge-sized solve decodes about ten thousand shards and a quarter of a million records,
 * so this is written for speed: one decoder state per call, no closures per value, short ASCII
 * strings (names, versions, dependencies: nearly every string of repodata) built without
 * TextDecoder, whose per-call cost is larger than such a string's. Anything else is decoded
 * strictly (invalid UTF-8 is an error).
 */
export type MsgpackValue = null | boolean | number | string | Uint8Array | MsgpackValue[] | { [key: string]: MsgpackValue };

const decoder = new TextDecoder('utf-8', { fatal: true });

/** Strings up to this many bytes are read byte by byte when they are ASCII. */
const SHORT = 64;

/**
 * What `decodeMsgpack` may do with binary values: `hex` names the map keys whose binary value is
 * wanted as a lower-case hex string instead (sharded repodata's md5 and sha256), saving a copy.
 */
export interface MsgpackOptions {
  hex?: ReadonlySet<string>;
}

/** Map keys met so far (Reader.key), by a hash of their bytes. */
const KEYS: (string | undefined)[] = new Array<string | undefined>(1024);

/** The char codes of 0-9a-f. */
const HEX_DIGITS = Array.from('0123456789abcdef', (c) => c.charCodeAt(0));

/**
 * A decoder over one buffer for callers that walk the outer structure themselves (shard-loader.ts
 * reads a shard's tables record by record): `mapLength` and `key` for the structure, `value` for
 * whatever is inside, `end` to check that nothing trails.
 */
export class MsgpackReader {
  at = 0;
  private readonly view: DataView;

  private bytes: Uint8Array;
  private readonly hex: ReadonlySet<string> | undefined;

  constructor(bytes: Uint8Array, options: MsgpackOptions = {}) {
    this.bytes = bytes;
    this.hex = options.hex;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    // A plain view: a Buffer's subarray costs a Buffer each.
    if (Buffer.isBuffer(bytes)) this.bytes = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** Throws unless every byte was read. */
  end(): void {
    if (this.at !== this.bytes.length) throw new Error('msgpack: trailing bytes');
  }

  /** The length of the map that follows (its head read), or undefined (nothing read) when a map does not follow. */
  mapLength(): number | undefined {
    this.need(1);
    const b = this.bytes[this.at];
    let n: number;
    if ((b & 0xf0) === 0x80) {
      this.at++;
      n = b & 0x0f;
    } else if (b === 0xde) {
      this.at++;
      n = this.u16();
    } else if (b === 0xdf) {
      this.at++;
      n = this.u32();
    } else return undefined;
    this.need(2 * n);
    return n;
  }

  /** A map key, as decodeMsgpack makes it a string. */
  mapKey(depth = 0): string {
    const b = this.bytes[this.at];
    let k: string;
    if ((b & 0xe0) === 0xa0) {
      this.at++;
      k = this.key(b & 0x1f);
    } else {
      const key = this.value(depth + 1);
      k = typeof key === 'string' ? key : key instanceof Uint8Array ? decoder.decode(key) : typeof key === 'number' || typeof key === 'boolean' ? String(key) : JSON.stringify(key);
    }
    if (k === '__proto__') throw new Error('msgpack: a key "__proto__"');
    return k;
  }

  /**
   * The map that follows with only the keys in `keep` (the others' values skipped, never built);
   * anything but a map as `value` reads it.
   */
  mapOf(keep: ReadonlySet<string>, depth = 0): MsgpackValue {
    const n = this.mapLength();
    if (n === undefined) return this.value(depth);
    if (depth > 64) throw new Error('msgpack: nested too deep');
    const out: { [key: string]: MsgpackValue } = {};
    for (let i = 0; i < n; i++) {
      const k = this.mapKey(depth);
      if (keep.has(k)) out[k] = this.valueOf(k, depth + 1);
      else this.skip(depth + 1);
    }
    return out;
  }

  /** Steps over the value that follows, checked as `value` checks it, building nothing. */
  skip(depth = 0): void {
    if (depth > 64) throw new Error('msgpack: nested too deep');
    this.need(1);
    const b = this.bytes[this.at++];
    if (b <= 0x7f || b >= 0xe0 || b === 0xc0 || b === 0xc2 || b === 0xc3) return;
    if ((b & 0xe0) === 0xa0) return this.skipBytes(b & 0x1f, true);
    if ((b & 0xf0) === 0x80) return this.skipMany(2 * (b & 0x0f), depth);
    if ((b & 0xf0) === 0x90) return this.skipMany(b & 0x0f, depth);
    switch (b) {
      case 0xc4:
      case 0xd9:
        return this.skipBytes(this.u8(), b === 0xd9);
      case 0xc5:
      case 0xda:
        return this.skipBytes(this.u16(), b === 0xda);
      case 0xc6:
      case 0xdb:
        return this.skipBytes(this.u32(), b === 0xdb);
      case 0xcc:
      case 0xd0:
        return this.skipBytes(1, false);
      case 0xcd:
      case 0xd1:
        return this.skipBytes(2, false);
      case 0xca:
      case 0xce:
      case 0xd2:
        return this.skipBytes(4, false);
      case 0xcb:
      case 0xcf:
      case 0xd3:
        return this.skipBytes(8, false);
      case 0xdc:
        return this.skipMany(this.u16(), depth);
      case 0xdd:
        return this.skipMany(this.u32(), depth);
      case 0xde:
        return this.skipMany(2 * this.u16(), depth);
      case 0xdf:
        return this.skipMany(2 * this.u32(), depth);
      default:
        throw new Error(`msgpack: type 0x${b.toString(16)} is not read here`);
    }
  }

  /** `n` bytes stepped over; a string's are checked to be UTF-8 unless ASCII, as `str` would. */
  private skipBytes(n: number, utf8: boolean): void {
    this.need(n);
    const start = this.at;
    this.at += n;
    if (!utf8) return;
    for (let i = start; i < start + n; i++) {
      if (this.bytes[i] > 0x7f) {
        decoder.decode(this.bytes.subarray(start, start + n));
        return;
      }
    }
  }

  private skipMany(n: number, depth: number): void {
    this.need(n);
    for (let i = 0; i < n; i++) this.skip(depth + 1);
  }

  /** The value that follows; a map value of a key in `options.hex` that is binary comes as hex. */
  valueOf(key: string, depth = 0): MsgpackValue {
    return this.hex !== undefined && this.hex.has(key) ? this.hexOrValue(depth) : this.value(depth);
  }

  private need(n: number): void {
    if (this.at + n > this.bytes.length) throw new Error('msgpack: truncated');
  }

  private str(n: number): string {
    this.need(n);
    const bytes = this.bytes;
    const start = this.at;
    const end = start + n;
    this.at = end;
    if (n <= SHORT) {
      const units = new Array<number>(n);
      let i = 0;
      for (; i < n; i++) {
        const b = bytes[start + i];
        if (b > 0x7f) break;
        units[i] = b;
      }
      if (i === n) return String.fromCharCode.apply(null, units);
    }
    return decoder.decode(bytes.subarray(start, end));
  }

  /**
   * A short map key: the same keys come back in every record, so each is made once (KEYS) and
   * found again by its bytes.
   */
  private key(n: number): string {
    this.need(n);
    const bytes = this.bytes;
    const start = this.at;
    let h = n;
    for (let i = start; i < start + n; i++) h = (Math.imul(h, 31) + bytes[i]) | 0;
    const slot = h & (KEYS.length - 1);
    const known = KEYS[slot];
    if (known !== undefined && known.length === n) {
      let same = true;
      for (let i = 0; i < n; i++) {
        if (known.charCodeAt(i) !== bytes[start + i]) {
          same = false;
          break;
        }
      }
      if (same) {
        this.at += n;
        return known;
      }
    }
    const k = this.str(n);
    // eslint-disable-next-line no-control-regex -- ASCII is what the key table compares against
    if (/^[\x00-\x7f]*$/.test(k)) KEYS[slot] = k;
    return k;
  }

  /** `n` bytes as a copy of their own. */
  private bin(n: number): Uint8Array {
    this.need(n);
    this.at += n;
    return this.bytes.slice(this.at - n, this.at);
  }

  /** The value that follows, when it is binary (bin 8 or 16): as hex; anything else as `value` reads it. */
  hexOrValue(depth: number): MsgpackValue {
    const b = this.bytes[this.at];
    let n: number;
    let head: number;
    if (b === 0xc4) {
      this.need(2);
      n = this.bytes[this.at + 1];
      head = 2;
    } else if (b === 0xc5) {
      this.need(3);
      n = this.view.getUint16(this.at + 1);
      head = 3;
    } else return this.value(depth);
    this.need(head + n);
    const bytes = this.bytes;
    // One flat string (concatenation would leave a rope of 2n pieces for the life of the record).
    const units = new Array<number>(2 * n);
    for (let i = 0, at = this.at + head; i < n; i++) {
      const b = bytes[at + i];
      units[2 * i] = HEX_DIGITS[b >> 4];
      units[2 * i + 1] = HEX_DIGITS[b & 15];
    }
    this.at += head + n;
    return String.fromCharCode.apply(null, units);
  }

  private array(n: number, depth: number): MsgpackValue[] {
    this.need(n); // every element takes a byte at least: a length beyond the input is a lie
    const out = new Array<MsgpackValue>(n);
    for (let i = 0; i < n; i++) out[i] = this.value(depth + 1);
    return out;
  }

  private map(n: number, depth: number): { [key: string]: MsgpackValue } {
    this.need(2 * n);
    const out: { [key: string]: MsgpackValue } = {};
    const hex = this.hex;
    for (let i = 0; i < n; i++) {
      const k = this.mapKey(depth);
      out[k] = hex !== undefined && hex.has(k) ? this.hexOrValue(depth + 1) : this.value(depth + 1);
    }
    return out;
  }

  value(depth: number): MsgpackValue {
    if (depth > 64) throw new Error('msgpack: nested too deep');
    this.need(1);
    const b = this.bytes[this.at++];
    if (b <= 0x7f) return b;
    if (b >= 0xe0) return b - 0x100;
    if ((b & 0xe0) === 0xa0) return this.str(b & 0x1f);
    if ((b & 0xf0) === 0x80) return this.map(b & 0x0f, depth);
    if ((b & 0xf0) === 0x90) return this.array(b & 0x0f, depth);
    const view = this.view;
    switch (b) {
      case 0xc0:
        return null;
      case 0xc2:
        return false;
      case 0xc3:
        return true;
      case 0xc4:
        return this.bin(this.u8());
      case 0xc5:
        return this.bin(this.u16());
      case 0xc6:
        return this.bin(this.u32());
      case 0xca:
        this.need(4);
        this.at += 4;
        return view.getFloat32(this.at - 4);
      case 0xcb:
        this.need(8);
        this.at += 8;
        return view.getFloat64(this.at - 8);
      case 0xcc:
        return this.u8();
      case 0xcd:
        return this.u16();
      case 0xce:
        return this.u32();
      case 0xcf:
        this.need(8);
        this.at += 8;
        return Number(view.getBigUint64(this.at - 8));
      case 0xd0:
        this.need(1);
        return view.getInt8(this.at++);
      case 0xd1:
        this.need(2);
        this.at += 2;
        return view.getInt16(this.at - 2);
      case 0xd2:
        this.need(4);
        this.at += 4;
        return view.getInt32(this.at - 4);
      case 0xd3:
        this.need(8);
        this.at += 8;
        return Number(view.getBigInt64(this.at - 8));
      case 0xd9:
        return this.str(this.u8());
      case 0xda:
        return this.str(this.u16());
      case 0xdb:
        return this.str(this.u32());
      case 0xdc:
        return this.array(this.u16(), depth);
      case 0xdd:
        return this.array(this.u32(), depth);
      case 0xde:
        return this.map(this.u16(), depth);
      case 0xdf:
        return this.map(this.u32(), depth);
      default:
        throw new Error(`msgpack: type 0x${b.toString(16)} is not read here`);
    }
  }

  private u8(): number {
    this.need(1);
    return this.bytes[this.at++];
  }

  private u16(): number {
    this.need(2);
    this.at += 2;
    return this.view.getUint16(this.at - 2);
  }

  private u32(): number {
    this.need(4);
    this.at += 4;
    return this.view.getUint32(this.at - 4);
  }
}

export function decodeMsgpack(bytes: Uint8Array, options: MsgpackOptions = {}): MsgpackValue {
  const reader = new MsgpackReader(bytes, options);
  const out = reader.value(0);
  reader.end();
  return out;
}
