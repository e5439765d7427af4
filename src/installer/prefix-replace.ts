/**
 * Prefix replacement, the two ways conda does it:
 * - text: every occurrence of the placeholder becomes the new prefix (the file's size changes);
 * - binary: each NUL-terminated string holding the placeholder is rewritten in place and padded
 *   with NULs to its old length, so offsets inside executables and libraries stay valid.
 */

export type FileMode = 'text' | 'binary';

/** The new prefix does not fit where the placeholder was (binary mode). */
export class PrefixTooLongError extends Error {
  constructor(
    readonly placeholder: string,
    readonly prefix: string,
  ) {
    super(`the prefix ${prefix} (${Buffer.byteLength(prefix)} bytes) is longer than the placeholder ` + `(${Buffer.byteLength(placeholder)} bytes) it must replace in a binary file`);
    this.name = 'PrefixTooLongError';
  }
}

/**
 * `data` with the placeholder replaced. Binary mode rewrites a copy, unless `inPlace` says the caller
 * owns `data` (a buffer just read from disk) and it may be rewritten where it is.
 */
export function replacePrefix(data: Buffer, placeholder: string, prefix: string, mode: FileMode, inPlace = false): Buffer {
  const from = Buffer.from(placeholder);
  const to = Buffer.from(prefix);
  if (from.length === 0 || data.indexOf(from) < 0) return data;
  return mode === 'text' ? replaceText(data, from, to) : replaceBinary(inPlace ? data : Buffer.from(data), from, to, placeholder, prefix);
}

/** Every occurrence of `from` in `data` replaced by `to` (text mode; the conformance test's neutraliser). */
export function replaceText(data: Buffer, from: Buffer, to: Buffer): Buffer {
  const parts: Buffer[] = [];
  let start = 0;
  for (let at = data.indexOf(from); at >= 0; at = data.indexOf(from, start)) {
    parts.push(data.subarray(start, at), to);
    start = at + from.length;
  }
  parts.push(data.subarray(start));
  return Buffer.concat(parts);
}

function replaceBinary(out: Buffer, from: Buffer, to: Buffer, placeholder: string, prefix: string): Buffer {
  if (to.length > from.length) throw new PrefixTooLongError(placeholder, prefix);
  let at = out.indexOf(from);
  while (at >= 0) {
    // The C string runs from the placeholder to the next NUL (or the end of the file).
    let end = out.indexOf(0, at);
    if (end < 0) end = out.length;
    const segment = replaceText(out.subarray(at, end), from, to);
    segment.copy(out, at);
    out.fill(0, at + segment.length, end);
    at = out.indexOf(from, at + segment.length);
  }
  return out;
}
