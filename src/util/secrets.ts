/**
 * The one home of the rules that keep credentials carried by URLs out of log lines, error messages,
 * git files, prefixes and the package cache's records: what a URL shows (`redactUrls`) and how its
 * user info becomes a header instead (`splitCredentials`).
 */

/** A `scheme://` URL inside a text: up to white space, a quote or a bracket. */
const URL_IN_TEXT = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s"'`<>()[\]{}]*)/gi;

/**
 * `text` (one URL, a path, a message or an argument quoting URLs) with, in every `scheme://` URL but
 * file:// ones, the user info removed, a `/t/<token>/` segment (anaconda.org's tokens) shown as
 * `/t/***\/` and the query string dropped. Anything that is no such URL is left as it is.
 */
export function redactUrls(text: string): string {
  return text.replace(URL_IN_TEXT, (_whole, scheme: string, rest: string) => {
    if (scheme.toLowerCase() === 'file://') return scheme + rest;
    const cut = rest.search(/[/?#]/);
    const authority = cut < 0 ? rest : rest.slice(0, cut);
    let tail = cut < 0 ? '' : rest.slice(cut);
    const at = authority.lastIndexOf('@');
    tail = tail.replace(/\?[^#]*/, '').replace(/\/t\/[^/?#]+\//g, '/t/***/');
    return scheme + authority.slice(at + 1) + tail;
  });
}

/**
 * A URL as it is to be recorded (a lock, a manifest) or compared with a channel: user info, the
 * `/t/<token>` segment right after the host and the query string removed, not masked.
 */
export function withoutCredentials(url: string): string {
  return url
    .replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#]*@/i, '$1')
    .replace(/^([a-z][a-z0-9+.-]*:\/\/[^/]*)\/t\/[^/]+/i, '$1')
    .replace(/^((?!file:)[a-z][a-z0-9+.-]*:\/\/[^?#]*)\?[^#]*/i, '$1');
}

/** An http(s) URL without its user info, and that user info (decoded) for a header. */
export interface SplitUrl {
  url: string;
  user?: string;
  password?: string;
  /** `Basic <base64 user:password>`, when the URL carried user info. */
  authorization?: string;
}

/**
 * Takes user info out of an http(s) URL (fetch refuses URLs that carry credentials, and git must
 * not see them): `https://user:secret@host/x` becomes `https://host/x` with user `user`, password
 * `secret` and their basic Authorization header. Any other URL, or text that is no URL, is returned
 * as it is.
 */
export function splitCredentials(raw: string): SplitUrl {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return { url: raw };
  }
  if ((u.protocol !== 'https:' && u.protocol !== 'http:') || (!u.username && !u.password)) return { url: raw };
  const user = decodeURIComponent(u.username);
  const password = decodeURIComponent(u.password);
  u.username = '';
  u.password = '';
  return { url: u.toString(), user, password, authorization: `Basic ${basicCredentials(user, password)}` };
}

/** The base64 `user:password` of HTTP basic authentication. */
export function basicCredentials(user: string, password: string): string {
  return Buffer.from(`${user}:${password}`, 'utf8').toString('base64');
}
