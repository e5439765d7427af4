/**
 * The files of a manifest branch, by platform. An environment of one platform has today's
 * `env.manifest` and `env.lock` (the lock's `# platform:` line says which); one of several has
 * `env.<platform>.manifest` and `env.<platform>.lock` per platform. Both keep `env.spec` beside them.
 */
import { isKnownPlatform } from '../conda/platforms.js';
import { parseLockFile } from './lock.js';

export const MANIFEST_FILE = 'env.manifest';
export const LOCK_FILE = 'env.lock';

export interface PlatformFileNames {
  manifest: string;
  lock: string;
}

/** The manifest and lock file of `platform` in an environment of one platform or of several. */
export function platformFileNames(platform: string, several: boolean): PlatformFileNames {
  return several ? { manifest: `env.${platform}.manifest`, lock: `env.${platform}.lock` } : { manifest: MANIFEST_FILE, lock: LOCK_FILE };
}

const PER_PLATFORM = /^env\.([a-z0-9]+-[a-z0-9]+)\.(manifest|lock)$/;

/** The platform a per-platform file name (`env.osx-arm64.lock`) is for; undefined for any other name. */
export function platformOfFileName(name: string): { platform: string; kind: 'manifest' | 'lock' } | undefined {
  const m = PER_PLATFORM.exec(name);
  return m && isKnownPlatform(m[1]) ? { platform: m[1], kind: m[2] as 'manifest' | 'lock' } : undefined;
}

/** Is `name` one of the manifest or lock files gitenv writes (either layout)? */
export function isManifestFile(name: string): boolean {
  return name === MANIFEST_FILE || name === LOCK_FILE || platformOfFileName(name) !== undefined;
}

/** One platform's files as found on a manifest branch or a tag. */
export interface PlatformFiles {
  platform: string;
  names: PlatformFileNames;
}

/**
 * The platforms a tree holds, from its file names and (for the one-platform layout) the lock's
 * `# platform:` line; `fallback` names the platform of a lock without that line or of an old-tool
 * manifest without a lock.
 */
export function platformsOfTree(names: readonly string[], singleLock: string | undefined, fallback: string): PlatformFiles[] {
  const out: PlatformFiles[] = [];
  if (names.includes(MANIFEST_FILE) || names.includes(LOCK_FILE)) {
    const platform = (singleLock !== undefined ? lockPlatform(singleLock) : undefined) ?? fallback;
    out.push({ platform, names: platformFileNames(platform, false) });
  }
  const several = new Set(names.map((n) => platformOfFileName(n)?.platform).filter((p): p is string => p !== undefined));
  for (const platform of [...several].sort()) {
    if (!out.some((o) => o.platform === platform)) out.push({ platform, names: platformFileNames(platform, true) });
  }
  return out;
}

/** The `# platform:` of a lock; undefined when it has none or cannot be read. */
export function lockPlatform(lock: string): string | undefined {
  try {
    return parseLockFile(lock).platform;
  } catch {
    return undefined;
  }
}
