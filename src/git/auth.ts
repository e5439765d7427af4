/**
 * Token authentication for https remotes, the way actions/checkout does it: an
 * `http.<origin>/.extraheader` with a basic Authorization header, scoped to the remote's origin so
 * the token never travels to another host, and never written into a URL.
 */
import { basicCredentials } from '../util/secrets.js';

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
  const basic = basicCredentials('x-access-token', token);
  return { key: `http.${url.origin}/.extraheader`, value: `AUTHORIZATION: basic ${basic}` };
}
