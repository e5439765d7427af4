/**
 * Token authentication for https remotes, the way actions/checkout does it: an
 * `http.<origin>/.extraheader` with a basic Authorization header, scoped to the remote's origin so
 * the token never travels to another host, and never written into a URL.
 */

export interface ConfigEntry {
  key: string;
  value: string;
}

/** The git config entry that sends `token` to `remoteUrl`'s origin; undefined for non-http remotes. */
export function authHeaderConfig(remoteUrl: string, token: string): ConfigEntry | undefined {
  let url: URL;
  try {
    url = new URL(remoteUrl);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return undefined;
  const basic = Buffer.from(`x-access-token:${token}`, 'utf8').toString('base64');
  return { key: `http.${url.origin}/.extraheader`, value: `AUTHORIZATION: basic ${basic}` };
}

/** Removes `user:password@` from URLs inside a text (messages, argument lists). */
export function redactUrl(text: string): string {
  return text.replace(/(\b[a-z][a-z0-9+.-]*:\/\/)[^/@\s]+@/gi, '$1***@');
}

/**
 * Takes credentials out of an http(s) URL: `https://user:secret@host/x` becomes `https://host/x`
 * with `secret` as the token (a user who pasted such a URL still gets header auth).
 */
export function splitUrlCredentials(remote: string): { url: string; token?: string } {
  let url: URL;
  try {
    url = new URL(remote);
  } catch {
    return { url: remote };
  }
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || (!url.username && !url.password)) return { url: remote };
  const token = decodeURIComponent(url.password || url.username);
  url.username = '';
  url.password = '';
  return { url: url.toString(), token };
}
