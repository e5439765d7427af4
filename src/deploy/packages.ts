/**
 * The packages a tag deploys on a platform: its `env.<platform>.lock` (several platforms), its
 * env.lock when that is for the platform, or for a tag made by the old tool (env.manifest only)
 * the manifest's dists looked up in the channels' repodata. A tag with nothing for the platform is
 * refused, naming what it has: a lock is never installed on a machine it was not solved for.
 */
import type { LockedPackage } from '../conda/types.js';
import { parseLockFile } from '../manifest/lock.js';
import { parseManifest } from '../manifest/manifest.js';
import { lockFromManifest } from '../manifest/old-manifest.js';
import { LOCK_FILE, MANIFEST_FILE, platformFileNames, platformsOfTree } from '../manifest/platform-files.js';
import type { FetchLike } from '../net/fetch-like.js';
import { parseEnvSpec } from '../repo/env-spec.js';
import { ENV_SPEC_FILE } from '../repo/names.js';
import { DEFAULT_PLATFORM } from '../conda/platforms.js';
import { DEFAULT_CHANNEL_ALIAS, expandChannels } from '../solver/channels.js';
import { ConfigurationError, errorMessage } from '../util/errors.js';
import { sha256Hex } from '../util/files.js';
import type { Logger } from '../util/logger.js';
import type { SelectedPrefix } from './selection.js';

/**
 * A deploy reads env.spec for its channels, requested specs and tests, of a tag resolved (and its
 * specs checked) once: versions are left unchecked, so the deploy action never loads the solver's
 * WebAssembly (match-spec.ts VersionCheck).
 */
const UNCHECKED = 'unchecked';

/** What deploy needs of the repository to read a tag's files (EnvRepository has it). */
export interface TagFileReader {
  readFiles(requests: { rev: string; path: string }[]): Promise<(Buffer | undefined)[]>;
  /** The file names at the root of a revision (EnvRepository has it; without it, only the files read are known). */
  listFiles?(rev: string): Promise<string[]>;
}

export interface TagPackages {
  packages: LockedPackage[];
  /** sha256 of the env.lock (or of the env.manifest for an old-tool tag). */
  lockSha256: string;
  /** The match specs of the tag's env.spec (conda-meta's requested specs); empty when unreadable. */
  specs: string[];
  /** The smoke tests of the tag's env.spec (`tests:`); empty when it has none or is unreadable. */
  tests: string[];
  source: typeof LOCK_FILE | typeof MANIFEST_FILE;
  /** The lock file read (`env.lock`, `env.<platform>.lock`) or env.manifest. */
  file: string;
}

export interface TagPackagesOptions {
  /** Needed only for old-tool tags (repodata lookups). */
  fetch: FetchLike;
  mirror?: string;
  logger: Logger;
  /** The platform to deploy (the machine's, or the explicit override); default linux-64. */
  platform?: string;
}

export async function packagesOfTag(repo: TagFileReader, selected: SelectedPrefix, options: TagPackagesOptions): Promise<TagPackages> {
  const platform = options.platform ?? DEFAULT_PLATFORM;
  const own = platformFileNames(platform, true).lock;
  const [lock, ownLock, manifest, specText] = await repo.readFiles([LOCK_FILE, own, MANIFEST_FILE, ENV_SPEC_FILE].map((path) => ({ rev: selected.commit, path })));
  const spec = readSpec(specText, selected, options.logger);
  // `single`: the platform of env.lock or env.manifest when they do not say it themselves.
  const refuse = async (single = 'an unknown platform'): Promise<never> => {
    const names = (await repo.listFiles?.(selected.commit)) ?? [...(lock ? [LOCK_FILE] : []), ...(manifest ? [MANIFEST_FILE] : [])];
    const has = platformsOfTree(names, lock?.toString('utf8'), single).map((p) => p.platform);
    throw new ConfigurationError(`${selected.env} has no lock for ${platform}; it has ${has.length > 0 ? has.join(', ') : 'none'}`, { env: selected.env });
  };
  for (const [file, text] of [
    [own, ownLock],
    [LOCK_FILE, lock],
  ] as const) {
    if (!text) continue;
    const parsed = parseWhere(() => parseLockFile(text.toString('utf8'), `${file} of ${selected.tag}`), selected, file);
    const lockedFor = parsed.platform ?? subdirOf(parsed.packages);
    if (lockedFor !== undefined && lockedFor !== platform) {
      if (file === own) throw new ConfigurationError(`${file} of ${selected.tag} says "# platform: ${lockedFor}"`, { env: selected.env, file });
      return refuse(lockedFor);
    }
    return { packages: parsed.packages, lockSha256: sha256Hex(text), specs: spec?.specs ?? [], tests: spec?.tests ?? [], source: LOCK_FILE, file };
  }
  if (!manifest) {
    if ((await repo.listFiles?.(selected.commit))?.some((n) => /^env\..+\.lock$/.test(n))) return refuse();
    throw new ConfigurationError(`tag ${selected.tag} has neither env.lock nor env.manifest`, { env: selected.env });
  }
  const entries = parseWhere(() => parseManifest(manifest.toString('utf8'), `${MANIFEST_FILE} of ${selected.tag}`), selected, MANIFEST_FILE);
  const manifestFor = subdirOf(entries);
  if (manifestFor !== undefined && manifestFor !== platform) return refuse(manifestFor);
  options.logger.info(`${selected.tag} has no env.lock (made by the old tool): looking its ${entries.length} packages up in the channels`);
  const specChannels = spec ? specChannelsOf(spec.channels, selected, options.logger) : [];
  const packages = await lockFromManifest(entries, { fetch: options.fetch, specChannels, mirror: options.mirror });
  return { packages, lockSha256: sha256Hex(manifest), specs: spec?.specs ?? [], tests: spec?.tests ?? [], source: MANIFEST_FILE, file: MANIFEST_FILE };
}

/** The platform packages are for: the subdir of the first that is not noarch (undefined: all noarch). */
function subdirOf(packages: readonly { subdir: string }[]): string | undefined {
  return packages.find((p) => p.subdir !== 'noarch')?.subdir;
}

/**
 * The channels of the env.spec on the environment's branch (`envCommit`), expanded: the only
 * channels whose hosts get credentials. The env.spec and env.lock of a tag are not asked: both sit
 * on the manifest branch, which anyone who may push there writes. None when it cannot be read.
 */
export async function trustedChannels(repo: TagFileReader, envCommit: string, env: string, channelAlias: string | undefined, logger: Logger): Promise<string[]> {
  const [text] = await repo.readFiles([{ rev: envCommit, path: ENV_SPEC_FILE }]);
  if (!text) return [];
  try {
    return expandChannels(parseEnvSpec(text, { env }, UNCHECKED).channels, { channelAlias: channelAlias ?? DEFAULT_CHANNEL_ALIAS });
  } catch (err) {
    logger.warning(`${env}: the env.spec of its branch cannot be read (${errorMessage(err)}): no channel gets credentials`);
    return [];
  }
}

function readSpec(text: Buffer | undefined, selected: SelectedPrefix, logger: Logger): { channels: string[]; specs: string[]; tests: string[] } | undefined {
  if (!text) return undefined;
  try {
    return parseEnvSpec(text, { env: selected.env }, UNCHECKED);
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
