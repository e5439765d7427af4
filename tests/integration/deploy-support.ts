/**
 * Shared by the deploy integration tests: an environments repository whose manifest branches and
 * tags are made here (env.lock from real archives of the seed channel), and file-tree snapshots.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { formatLock } from '../../src/manifest/lock.js';
import { formatManifest } from '../../src/manifest/manifest.js';
import { recordsAt, type BuiltChannel, type BuiltPackage } from '../fixtures/channel/index.js';
import { ensureBundles } from '../fixtures/bundles.js';
import { GitFixture } from '../fixtures/git-repo.js';

export { recordsAt };

/** The seed channel's packages of a python 3 environment (python, numpy, pyhello, zlib, openssl). */
export function py3Packages(channel: BuiltChannel, pythonVersion = '3.11.4'): BuiltPackage[] {
  return channel.packages.filter(
    (p) => (p.record.name === 'python' && p.record.version === pythonVersion) || (p.record.name === 'numpy' && p.record.version === '1.26.4') || ['pyhello', 'zlib', 'openssl'].includes(p.record.name),
  );
}

export interface TagOptions {
  /** Committer date of the manifest commit (decides `latest`). */
  date: string;
  /** Write only env.manifest (the old tool's tags), with runs of spaces instead of tabs. */
  oldTool?: boolean;
  /** Rewrites env.lock before it is committed (to make it lie). */
  patchLock?: (text: string) => string;
  /** The env.spec committed with the manifest (default: python, numpy and pyhello from the channel). */
  spec?: string;
}

const SPEC = (channel: string) => `channels:\n  - ${channel}\nenv:\n  - python 3.11.*\n  - numpy\n  - pyhello\n`;

/** Commits a manifest for `env` (and its env branch if missing) and tags it; returns the tag name. */
export async function tagManifest(fx: GitFixture, env: string, tag: string, channelUrl: string, pkgs: readonly BuiltPackage[], options: TagOptions): Promise<string> {
  const records = recordsAt(channelUrl, pkgs);
  const files: Record<string, string | null> = { 'env.spec': options.spec ?? SPEC(channelUrl) };
  if (options.oldTool) {
    files['env.manifest'] = formatManifest(records)
      .replace(/\t/g, '    ')
      .replace(/(linux-64|noarch) /g, '$1/ ');
    files['env.lock'] = null;
  } else {
    const lock = formatLock(records, { platform: 'linux-64', env });
    files['env.lock'] = options.patchLock ? options.patchLock(lock) : lock;
    files['env.manifest'] = formatManifest(records);
  }
  const exists = await fx.show(env, 'env.spec');
  if (!exists) await fx.commit(env, { 'env.spec': SPEC(channelUrl) }, { date: options.date });
  await fx.commit(`manifest/${env}`, files, { date: options.date, message: `Manifest update for ${env}` });
  await fx.tag(tag, `manifest/${env}`);
  return tag;
}

/** Points `labels/<label>.txt` on the env branch at `tag` (null removes the label). */
export async function setLabel(fx: GitFixture, env: string, label: string, tag: string | null): Promise<void> {
  await fx.commit(env, { [`labels/${label}.txt`]: tag === null ? null : `${tag}\n` });
}

/** Every path under `root` with its type, mtime and inode: equal snapshots mean nothing was touched. */
export async function snapshotTree(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (p: string): Promise<void> => {
    const st = await fs.lstat(p);
    out.push(`${path.relative(root, p) || '.'} ${st.isSymbolicLink() ? 'l:' + (await fs.readlink(p)) : st.isDirectory() ? 'd' : 'f'} ${st.mtimeMs} ${st.ino}`);
    if (st.isDirectory()) for (const n of (await fs.readdir(p)).sort()) await walk(path.join(p, n));
  };
  await walk(root);
  return out;
}

/** Names in `<target>/<env>`, hidden bookkeeping (lock) left out. */
export async function envEntries(target: string, env: string): Promise<string[]> {
  return (await fs.readdir(path.join(target, env))).filter((n) => !n.startsWith('.gitenv')).sort();
}

/** The bundles the deploy tests run (see tests/fixtures/bundles.ts): `{ entry: path }`. */
export async function buildBundles(_root: string, entries: string[]): Promise<Record<string, string>> {
  return ensureBundles(entries);
}
