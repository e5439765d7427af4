/**
 * The repodata cache on GitHub-hosted runners: `~/.cache/gitenv/repodata` is lost after every run,
 * so the resolve action restores it before resolving and saves it after, with @actions/cache.
 * Caches are immutable per key: each run saves under a key of its own
 * (`gitenv-repodata-<runner os>-<platform>-<run id>-<attempt>`) and restores the newest one that
 * starts with `gitenv-repodata-<runner os>-<platform>-`. A run whose cache did not change saves
 * nothing. A cache service that fails costs a download, never the resolve.
 */
import * as cache from '@actions/cache';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { errorMessage } from '../util/errors.js';
import type { Logger } from '../util/logger.js';

export function repodataCacheKeys(platform: string, env: NodeJS.ProcessEnv): { key: string; prefix: string } {
  const prefix = `gitenv-repodata-${env.RUNNER_OS || process.platform}-${platform}-`;
  return { prefix, key: `${prefix}${env.GITHUB_RUN_ID || Date.now()}-${env.GITHUB_RUN_ATTEMPT || '1'}` };
}

/** Names, sizes and times of the files under `dir`: what tells a changed cache from the one restored. */
async function fingerprint(dir: string): Promise<string> {
  const entries = await fs.readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  const parts: string[] = [];
  for (const e of entries) {
    if (!e.isFile()) continue;
    const full = path.join(e.parentPath, e.name);
    const st = await fs.stat(full).catch(() => undefined);
    if (st) parts.push(`${full}:${st.size}:${st.mtimeMs}`);
  }
  return parts.sort().join('\n');
}

export interface RestoredCache {
  dir: string;
  key: string;
  restoredKey?: string;
  before: string;
}

/** Restores the newest repodata cache of this platform into `dir`; undefined where there is no cache service. */
export async function restoreRepodataCache(dir: string, platform: string, logger: Logger, env = process.env): Promise<RestoredCache | undefined> {
  // `npx @github/local-action` stands in a cache module without isFeatureAvailable: no service there either.
  if (typeof cache.isFeatureAvailable !== 'function' || !cache.isFeatureAvailable()) {
    logger.debug('No cache service here (not a GitHub runner): the repodata cache stays on this machine');
    return undefined;
  }
  const { key, prefix } = repodataCacheKeys(platform, env);
  let restoredKey: string | undefined;
  try {
    await fs.mkdir(dir, { recursive: true });
    restoredKey = await cache.restoreCache([dir], key, [prefix]);
    logger.info(restoredKey ? `Repodata cache restored from ${restoredKey}` : 'No repodata cache restored: this run fetches all repodata');
  } catch (err) {
    logger.warning(`The repodata cache could not be restored (${errorMessage(err)}); this run fetches all repodata`);
  }
  return { dir, key, restoredKey, before: await fingerprint(dir) };
}

/** Saves the repodata cache when it changed since it was restored. */
export async function saveRepodataCache(restored: RestoredCache | undefined, logger: Logger): Promise<void> {
  if (!restored) return;
  if ((await fingerprint(restored.dir)) === restored.before) {
    logger.info('Repodata cache unchanged: nothing to save');
    return;
  }
  try {
    // The toolkit reports most failures as a warning of its own and an id of -1.
    const id = await cache.saveCache([restored.dir], restored.key);
    if (id !== -1) logger.info(`Repodata cache saved as ${restored.key}`);
  } catch (err) {
    logger.warning(`The repodata cache could not be saved (${errorMessage(err)}); the next run fetches all repodata`);
  }
}
