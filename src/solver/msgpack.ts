/**
 * A MessagePack decoder, enough for sharded repodata (CEP-16): maps, arrays, strings, binary,
 * integers, floats, booleans and nil. Extension types are refused. Binary values come back as
 * Uint8Array; 64-bit integers beyond 2^53 as numbers (repodata holds none that large).
 */
export type MsgpackValue = null | boolean | number | string | Uint8Array | MsgpackValue[] | { [key: string]: MsgpackValue };

const decoder = new TextDecoder('utf-8', { fatal: true });

export function decodeMsgpack(bytes: Uint8Array): MsgpackValue {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  const need = (n: number): void => {
    if (at + n > bytes.length) throw new Error('msgpack: truncated');
  };
  const u8 = (): number => (need(1), bytes[at++]);
  const u16 = (): number => (need(2), (at += 2), view.getUint16(at - 2));
  const u32 = (): number => (need(4), (at += 4), view.getUint32(at - 4));
  const raw = (n: number): Uint8Array => (need(n), (at += n), bytes.subarray(at - n, at));
  const str = (n: number): string => decoder.decode(raw(n));
  const array = (n: number, depth: number): MsgpackValue[] => {
    need(n); // every element takes a byte at least: a length beyond the input is a lie
    return Array.from({ length: n }, () => value(depth + 1));
  };
  const map = (n: number, depth: number): { [key: string]: MsgpackValue } => {
    need(2 * n);
    const out: { [key: string]: MsgpackValue } = {};
    for (let i = 0; i < n; i++) {
      const key = value(depth + 1);
      const k =
        typeof key === 'string'
          ? key
          : key instanceof Uint8Array
            ? decoder.decode(key)
            : typeof key === 'number' || typeof key === 'bigint' || typeof key === 'boolean'
              ? String(key)
              : JSON.stringify(key);
      if (k === '__proto__') throw new Error('msgpack: a key "__proto__"');
      out[k] = value(depth + 1);
    }
    return out;
  };
  const value = (depth: number): MsgpackValue => {
    if (depth > 64) throw new Error('msgpack: nested too deep');
    const b = u8();
    if (b <= 0x7f) return b;
    if (b >= 0xe0) return b - 0x100;
    if ((b & 0xf0) === 0x80) return map(b & 0x0f, depth);
    if ((b & 0xf0) === 0x90) return array(b & 0x0f, depth);
    if ((b & 0xe0) === 0xa0) return str(b & 0x1f);
    switch (b) {
      case 0xc0:
        return null;
      case 0xc2:
        return false;
      case 0xc3:
        return true;
      case 0xc4:
        return raw(u8()).slice();
      case 0xc5:
        return raw(u16()).slice();
      case 0xc6:
        return raw(u32()).slice();
      case 0xca:
        need(4);
        at += 4;
        return view.getFloat32(at - 4);
      case 0xcb:
        need(8);
        at += 8;
        return view.getFloat64(at - 8);
      case 0xcc:
        return u8();
      case 0xcd:
        return u16();
      case 0xce:
        return u32();
      case 0xcf:
        need(8);
        at += 8;
        return Number(view.getBigUint64(at - 8));
      case 0xd0:
        need(1);
        return view.getInt8(at++);
      case 0xd1:
        need(2);
        at += 2;
        return view.getInt16(at - 2);
      case 0xd2:
        need(4);
        at += 4;
        return view.getInt32(at - 4);
      case 0xd3:
        need(8);
        at += 8;
        return Number(view.getBigInt64(at - 8));
      case 0xd9:
        return str(u8());
      case 0xda:
        return str(u16());
      case 0xdb:
        return str(u32());
      case 0xdc:
        return array(u16(), depth);
      case 0xdd:
        return array(u32(), depth);
      case 0xde:
        return map(u16(), depth);
      case 0xdf:
        return map(u32(), depth);
      default:
        throw new Error(`msgpack: type 0x${b.toString(16)} is not read here`);
    }
  };
  const out = value(0);
  if (at !== bytes.length) throw new Error('msgpack: trailing bytes');
  return out;
}
