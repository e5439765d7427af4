// unbzip2-stream ships no types: a factory returning a Transform that decompresses bzip2.
declare module 'unbzip2-stream' {
  import type { Transform } from 'node:stream';
  export default function bz2(): Transform;
}

// Its block decoder and bit reader, driven one block at a time by bzip2.ts.
declare module 'unbzip2-stream/lib/bzip2.js' {
  export type Bits = ((n: number | null) => number) & { bytesRead: number };
  const bz2: {
    header(bits: Bits): number;
    decompress(bits: Bits, out: (byte: number) => void, buf: Int32Array, bufsize: number, streamCRC: number | null): number | null;
  };
  export default bz2;
}
declare module 'unbzip2-stream/lib/bit_iterator.js' {
  import type { Bits } from 'unbzip2-stream/lib/bzip2.js';
  export default function bitIterator(next: () => Uint8Array): Bits;
}
