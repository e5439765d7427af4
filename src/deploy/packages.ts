/**
 * The packages a tag deploys: its env.lock, or for a tag made by the old tool (env.manifest only)
 * the manifest's dists looked up in the channels' repodata.
 */
import { createHash } from 'node:crypto';
import type { LockedPackage } from '../conda/types.js';
import type { FetchLike } from '../engines/types.js';
import { parseLock } from '../manifest/lock.js';
import { parseManifest } from '../manifest/manifest.js';
import { parseEnvSpec } from '../repo/env-spec.js';
import { DEFAULT_CHANNEL_ALIAS } from '../phases/settings.js';
import { expandChannels } from '../solver/channels.js';
import { ConfigurationError, errorMessage } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import { lockFromManifest } from './old-manifest.js';
import type { SelectedPrefix } from './selection.js';

/** What deploy needs of the repository to read a tag's files (EnvRepository has it). */
export interface TagFileReader {
  readFiles(requests: { rev: string; path: string }[]): Promise<(Buffer | undefined)[]>;
}

export interface TagPackages {
  packages: LockedPackage[];
  /** sha256 of the env.lock (or of the env.manifest for an old-tool tag). */
  lockSha256: string;
  /** The match specs of the tag's env.spec (conda-meta's requested specs); empty when unreadable. */
  specs: string[];
  /** The smoke tests of the tag's env.spec (`tests:`); empty when it has none or is unreadable. */
  tests: string[];
  source: 'env.lock' | 'env.manifest';
}

export interface TagPackagesOptions {
  /** Needed only for old-tool tags (repodata lookups). */
  fetch: FetchLike;
  /** Told each channel an old-tool manifest will be read from (the fetch wrapper sends credentials there). */
  trustChannel?: (url: string) => void;
  mirror?: string;
  logger: Logger;
}

export async function packagesOfTag(repo: TagFileReader, selected: SelectedPrefix, options: TagPackagesOptions): Promise<TagPackages> {
  const [lock, manifest, specText] = await repo.readFiles(
    ['env.lock', 'env.manifest', 'env.spec'].map((path) => ({ rev: selected.commit, path })),
  );
  const spec = readSpec(specText, selected, options.logger);
  if (lock) {
    const packages = parseWhere(() => parseLock(lock.toString('utf8'), `env.lock of ${selected.tag}`), selected, 'env.lock');
    return { packages, lockSha256: sha256(lock), specs: spec?.specs ?? [], tests: spec?.tests ?? [], source: 'env.lock' };
  }
  if (!manifest) {
    throw new ConfigurationError(`tag ${selected.tag} has neither env.lock nor env.manifest`, { env: selected.env });
  }
  const entries = parseWhere(() => parseManifest(manifest.toString('utf8'), `env.manifest of ${selected.tag}`), selected, 'env.manifest');
  options.logger.info(`${selected.tag} has no env.lock (made by the old tool): looking its ${entries.length} packages up in the channels`);
  const specChannels = spec ? specChannelsOf(spec.channels, selected, options.logger) : [];
  for (const url of new Set([...entries.map((e) => e.channel), ...specChannels])) options.trustChannel?.(url);
  const packages = await lockFromManifest(entries, { fetch: options.fetch, specChannels, mirror: options.mirror });
  return { packages, lockSha256: sha256(manifest), specs: spec?.specs ?? [], tests: spec?.tests ?? [], source: 'env.manifest' };
}

function readSpec(text: Buffer | undefined, selected: SelectedPrefix, logger: Logger): { channels: string[]; specs: string[]; tests: string[] } | undefined {
  if (!text) return undefined;
  try {
    return parseEnvSpec(text, { env: selected.env });
  } catch (err) {
    // The tag was resolved once; an env.spec later rules reject only loses the requested specs.
    logger.debug(`env.spec of ${selected.tag} not used: ${errorMessage(err)}`);
    return undefined;
  }
}

function specChannelsOf(channels: string[], selected: SelectedPrefix, logger: Logger): string[] {
  try {
    return expandChannels(channels, { channelAlias: DEFAULT_CHANNEL_ALIAS });
  } catch (err) {
    logger.debug(`channels of env.spec of ${selected.tag} not used: ${errorMessage(err)}`);
    return [];
  }
}

function parseWhere<T>(parse: () => T, selected: SelectedPrefix, file: string): T {
  try {
    return parse();
  } catch (err) {
    throw new ConfigurationError(errorMessage(err), { env: selected.env, file });
  }
}

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}
