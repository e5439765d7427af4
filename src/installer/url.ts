import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** A local file behind `url` (file:// or a plain path), or undefined for a remote URL. */
export function localPath(url: string): string | undefined {
  if (url.startsWith('file://')) return fileURLToPath(url);
  if (/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(url)) return undefined;
  return path.resolve(url);
}
