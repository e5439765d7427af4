/**
 * A site's `.condarc` (setup-micromamba's `condarc-file` habit): the keys that say where channels
 * are and how to reach them. Other keys are reported as ignored, never silently dropped.
 */
import { readFileSync } from 'node:fs';
import yaml from 'js-yaml';
import { ConfigurationError } from '../util/errors.js';

/** The keys gitenv reads; the README lists them. */
export const CONDARC_KEYS = ['channel_alias', 'custom_channels', 'default_channels', 'proxy_servers', 'ssl_verify'] as const;

export interface Condarc {
  file: string;
  channelAlias?: string;
  /** Channel name → the base URL it lives under (`<url>/<name>`). */
  customChannels?: Record<string, string>;
  /** What `defaults` means. */
  defaultChannels?: string[];
  proxyServers?: { http?: string; https?: string };
  /** false, or a CA bundle's path (true is the default and reads as undefined). */
  sslVerify?: false | string;
  /** Keys present but not read, in file order. */
  ignored: string[];
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function url(file: string, key: string, value: unknown): string {
  if (typeof value !== 'string' || !/^(https?|file):\/\/\S+$/.test(value)) {
    throw new ConfigurationError(`${file}: ${key} must be an http://, https:// or file:// URL, got ${JSON.stringify(value)}`, { file });
  }
  return value.replace(/\/+$/, '');
}

function stringMap(file: string, key: string, value: unknown, check: (k: string, v: unknown) => string): Record<string, string> {
  if (!isRecord(value)) throw new ConfigurationError(`${file}: ${key} must be a mapping`, { file });
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, check(`${key}.${k}`, v)]));
}

/** Reads and checks a condarc file. */
export function readCondarc(file: string): Condarc {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigurationError(`condarc ${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`, { file });
  }
  let data: unknown;
  try {
    data = yaml.load(text, { schema: yaml.CORE_SCHEMA, maxDepth: 10 } as yaml.LoadOptions);
  } catch (err) {
    throw new ConfigurationError(`condarc ${file} is not valid YAML: ${(err as Error).message.split('\n')[0]}`, { file });
  }
  if (data === undefined || data === null) return { file, ignored: [] };
  if (!isRecord(data)) throw new ConfigurationError(`condarc ${file} must be a mapping of settings`, { file });
  const rc: Condarc = { file, ignored: Object.keys(data).filter((k) => !(CONDARC_KEYS as readonly string[]).includes(k)) };
  if (data.channel_alias !== undefined) rc.channelAlias = url(file, 'channel_alias', data.channel_alias);
  if (data.custom_channels !== undefined) rc.customChannels = stringMap(file, 'custom_channels', data.custom_channels, (k, v) => url(file, k, v));
  if (data.default_channels !== undefined) {
    if (!Array.isArray(data.default_channels) || data.default_channels.some((c) => typeof c !== 'string' || c.trim() === '')) {
      throw new ConfigurationError(`${file}: default_channels must be a list of channel URLs or names`, { file });
    }
    rc.defaultChannels = data.default_channels.map((c: string) => c.trim());
  }
  if (data.proxy_servers !== undefined) {
    const servers = stringMap(file, 'proxy_servers', data.proxy_servers, (k, v) => {
      if (typeof v !== 'string' || !/^[a-z][a-z0-9+.-]*:\/\/\S+$/i.test(v)) throw new ConfigurationError(`${file}: ${k} must be a proxy URL (http://host:port)`, { file });
      return v;
    });
    rc.proxyServers = { http: servers.http, https: servers.https };
  }
  const ssl = data.ssl_verify;
  if (ssl === false || (typeof ssl === 'string' && /^(false|no|off)$/i.test(ssl))) rc.sslVerify = false;
  else if (typeof ssl === 'string' && !/^(true|yes|on)$/i.test(ssl)) rc.sslVerify = ssl;
  else if (ssl !== undefined && ssl !== true && typeof ssl !== 'string') {
    throw new ConfigurationError(`${file}: ssl_verify must be true, false or the path of a CA bundle`, { file });
  }
  return rc;
}
