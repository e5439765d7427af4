// unbzip2-stream ships no types: a factory returning a Transform that decompresses bzip2.
declare module 'unbzip2-stream' {
  import type { Transform } from 'node:stream';
  export default function bz2(): Transform;
}
