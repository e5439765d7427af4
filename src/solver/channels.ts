/**
 * Channel expansion as conda does it: names go through the channel alias, `defaults` is
 * Anaconda's main and r channels, URLs stay as they are, local directories become file:// URLs.
 */
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigurationError } from '../util/errors.js';

/** Where channel names go when nothing else is said (conda's own default). */
export const DEFAULT_CHANNEL_ALIAS = 'https://conda.anaconda.org';

export const DEFAULTS_CHANNELS = ['https://repo.anaconda.com/pkgs/main', 'https://repo.anaconda.com/pkgs/r'];

export interface ExpandOptions {
  /** Base URL that channel names are appended to (`https://conda.anaconda.org`). */
  channelAlias: string;
  /** Directory relative local paths are resolved against (default: the working directory). */
  cwd?: string;
  /** condarc custom_channels: a name whose first segment is a key lives under that URL. */
  customChannels?: Record<string, string>;
  /** condarc default_channels: what `defaults` means (default: DEFAULTS_CHANNELS). */
  defaultChannels?: readonly string[];
}

const stripSlash = (url: string): string => url.replace(/\/+$/, '');

/** True for `/abs`, `./rel`, `../rel`, `~/x`, `C:\x`: what conda treats as a local directory. */
function isLocalPath(channel: string): boolean {
  return /^(\/|\.{1,2}([/\\]|$)|~([/\\]|$)|[A-Za-z]:[/\\])/.test(channel);
}

/** One channel as written in env.spec → its base URL (no trailing slash). */
export function expandChannel(channel: string, options: ExpandOptions): string[] {
  const c = channel.trim();
  if (c === '') throw new ConfigurationError('a channel is empty');
  if (c === 'defaults') {
    if (!options.defaultChannels) return [...DEFAULTS_CHANNELS];
    return options.defaultChannels.flatMap((d) => (d === 'defaults' ? [...DEFAULTS_CHANNELS] : expandChannel(d, { ...options, defaultChannels: undefined })));
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(c)) {
    const url = new URL(c);
    if (url.protocol !== 'http:' && url.protocol !== 'https:' && url.protocol !== 'file:') {
      throw new ConfigurationError(`channel "${c}": only https://, http:// and file:// URLs are supported`);
    }
    if (url.username || url.password || /\/t\/[^/]+\//.test(url.pathname + '/')) {
      // Never let a credential reach a manifest: the URL would be written out as it is.
      throw new ConfigurationError(`channel "${url.protocol}//${url.host}${url.pathname.replace(/\/t\/[^/]+/, '/t/***')}" carries credentials: give them as api-user/api-key instead`);
    }
    return [stripSlash(c)];
  }
  if (isLocalPath(c)) {
    const home = process.env.HOME ?? '';
    const expanded = c.startsWith('~') ? path.join(home, c.slice(1)) : c;
    return [stripSlash(pathToFileURL(path.resolve(options.cwd ?? process.cwd(), expanded)).href)];
  }
  if (!/^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*$/.test(c)) {
    throw new ConfigurationError(`channel "${c}" is neither a channel name, a URL nor a local directory`);
  }
  const custom = options.customChannels?.[c.split('/')[0]];
  return [`${stripSlash(custom ?? options.channelAlias)}/${c}`];
}

/** Every channel of an env.spec, expanded in priority order, each URL once. */
export function expandChannels(channels: readonly string[], options: ExpandOptions): string[] {
  const out: string[] = [];
  for (const c of channels) {
    for (const url of expandChannel(c, options)) if (!out.includes(url)) out.push(url);
  }
  return out;
}
