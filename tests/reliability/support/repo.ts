/**
 * Environments repositories for the reliability suite: manifest branches whose env.lock lists real
 * archives of a fixture channel, tags on them, label files.
 */
import type { PackageRecord } from '../../../src/conda/types.js';
import { formatLock } from '../../../src/manifest/lock.js';
import { formatManifest } from '../../../src/manifest/manifest.js';
import type { BuiltPackage } from '../../fixtures/channel/index.js';
import type { GitFixture } from '../../fixtures/git-repo.js';

/** The records of built packages as a channel at `channelUrl` serves them. */
export function recordsAt(channelUrl: string, pkgs: readonly BuiltPackage[]): PackageRecord[] {
  return pkgs.map((p) => ({
    name: p.record.name,
    version: p.record.version,
    build: p.record.build,
    buildNumber: p.record.build_number,
    subdir: p.subdir,
    channel: channelUrl,
    fn: p.fn,
    url: `${channelUrl}/${p.subdir}/${p.fn}`,
    md5: p.md5,
    sha256: p.sha256,
    size: p.size,
    depends: p.record.depends,
    constrains: p.record.constrains ?? [],
    noarch: p.record.noarch,
  }));
}

export function specFor(channelUrl: string, names: string[]): string {
  return `channels:\n  - ${channelUrl}\nenv:\n${names.map((n) => `  - ${n}\n`).join('')}`;
}

/**
 * Commits env.spec on `env` (when missing) and a manifest (env.lock + env.manifest) on
 * `manifest/<env>` dated `date`, then tags it `tag`.
 */
export async function tagLock(
  fx: GitFixture,
  env: string,
  tag: string,
  channelUrl: string,
  pkgs: readonly BuiltPackage[],
  date: string,
): Promise<string> {
  const records = recordsAt(channelUrl, pkgs);
  const spec = specFor(channelUrl, pkgs.map((p) => p.record.name));
  if (!(await fx.show(env, 'env.spec'))) await fx.commit(env, { 'env.spec': spec }, { date });
  await fx.commit(
    `manifest/${env}`,
    { 'env.spec': spec, 'env.lock': formatLock(records, { platform: 'linux-64', env }), 'env.manifest': formatManifest(records) },
    { date, message: `Manifest update for ${env}` },
  );
  await fx.tag(tag, `manifest/${env}`);
  return tag;
}

/** Points `labels/<label>.txt` on the env branch at `tag` (null removes it). */
export async function setLabel(fx: GitFixture, env: string, label: string, tag: string | null): Promise<void> {
  await fx.commit(env, { [`labels/${label}.txt`]: tag === null ? null : `${tag}\n` });
}
