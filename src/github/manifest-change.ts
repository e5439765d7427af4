/**
 * Gathers what the readable diff of one environment needs: the current manifest and env.spec
 * (from `manifest/<env>`), the new ones, and download sizes — the new side's from the solved
 * records, the old side's looked up in the channels' repodata (unknown when a package is gone).
 */
import type { PackageRecord } from '../conda/types.js';
import type { FetchLike } from '../net/fetch-like.js';
import { manifestEntry, parseManifest, type ManifestEntry } from '../manifest/manifest.js';
import { MANIFEST_FILE } from '../manifest/files.js';
import { lockFromManifest } from '../manifest/old-manifest.js';
import { entryKey, type ManifestChangeInput } from '../manifest/pr-body.js';
import type { EnvRepository } from '../repo/env-repository.js';
import { ENV_SPEC_FILE } from '../repo/names.js';
import { isVirtualPackage } from '../conda/virtual-packages.js';
import { errorMessage } from '../util/errors.js';
import type { Logger } from '../util/logger.js';

export interface ProposedManifest {
  env: string;
  /** The `manifest/<env>` commit compared with; undefined for a new environment. */
  base?: string;
  /** The manifest file on `base` to compare with (default env.manifest; `env.<platform>.manifest` for several platforms). */
  baseManifest?: string;
  manifest: string;
  spec: Buffer;
  records: readonly PackageRecord[];
}

export async function manifestChangeInput(repo: EnvRepository, proposed: ProposedManifest, options: { fetch?: FetchLike; logger: Logger }): Promise<ManifestChangeInput> {
  const [oldManifest, oldSpec] = proposed.base
    ? await repo.readFiles([
        { rev: proposed.base, path: proposed.baseManifest ?? MANIFEST_FILE },
        { rev: proposed.base, path: ENV_SPEC_FILE },
      ])
    : [undefined, undefined];
  const before = readEntries(oldManifest, proposed.env, options.logger);
  const after = parseManifest(proposed.manifest);
  const sizes = new Map<string, number>();
  for (const r of proposed.records) {
    if (!isVirtualPackage(r.name) && r.size !== undefined) sizes.set(entryKey(manifestEntry(r)), r.size);
  }
  const missing = before.filter((e) => !sizes.has(entryKey(e)));
  if (missing.length > 0 && options.fetch) {
    try {
      for (const p of await lockFromManifest(missing, { fetch: options.fetch })) {
        if (p.size !== undefined) sizes.set(entryKey(p), p.size);
      }
    } catch (err) {
      options.logger.debug(`${proposed.env}: sizes of the current manifest's packages not found (${errorMessage(err)})`);
    }
  }
  return {
    env: proposed.env,
    before,
    after,
    sizes,
    specBefore: oldSpec?.toString('utf8'),
    specAfter: proposed.spec.toString('utf8'),
  };
}

function readEntries(text: Buffer | undefined, env: string, logger: Logger): ManifestEntry[] {
  if (!text) return [];
  try {
    return parseManifest(text.toString('utf8'));
  } catch (err) {
    logger.warning(`manifest/${env}: the current env.manifest cannot be read (${errorMessage(err)}); listing every package as added`);
    return [];
  }
}
