import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** A URL fit for a log line or a record: no user info, no `/t/<token>/` segment, no query. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.protocol === 'file:') return url;
    u.username = '';
    u.password = '';
    u.search = '';
    u.pathname = u.pathname.replace(/\/t\/[^/]+\//, '/t/***/');
    return u.toString();
  } catch {
    return url.replace(/\/\/[^/@]*@/, '//');
  }
}

/** `<mirror>/<last path segment of the channel>/<subdir>/<fn>`, the old tool's mirror rule. */
export function mirroredUrl(channel: string, subdir: string, fn: string, mirror: string): string {
  const segment = channel.replace(/\/+$/, '').split('/').pop() ?? '';
  return `${mirror.replace(/\/+$/, '')}/${segment}/${subdir}/${fn}`;
}

/** A local file behind `url` (file:// or a plain path), or undefined for a remote URL. */
export function localPath(url: string): string | undefined {
  if (url.startsWith('file://')) return fileURLToPath(url);
  if (/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(url)) return undefined;
  return path.resolve(url);
}

/** A message with every `scheme://user:password@` in it reduced to `scheme://` (errors quote URLs). */
export function scrubCredentials(message: string): string {
  return message.replace(/([a-z][a-z0-9+.-]*:\/\/)[^/\s@]*@/gi, '$1').replace(/\/t\/[^/\s]+\//g, '/t/***/');
}

/**
 * A URL's user info as an HTTP basic auth header, and the URL without it: fetch refuses URLs that
 * carry credentials (a mirror given as https://user:pass@host).
 */
export function splitCredentials(url: string): { url: string; authorization?: string } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return { url };
  }
  if (!u.username && !u.password) return { url };
  const auth = `${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`;
  u.username = '';
  u.password = '';
  return { url: u.toString(), authorization: `Basic ${Buffer.from(auth).toString('base64')}` };
}
