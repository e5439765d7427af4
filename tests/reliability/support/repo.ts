/**
 * Environments repositories for the reliability suite: manifest branches whose env.lock lists real
 * archives of a fixture channel, tags on them, label files.
 */
import { spawn } from 'node:child_process';
import { formatLock } from '../../../src/manifest/lock.js';
import { formatManifest } from '../../../src/manifest/manifest.js';
import { recordsAt, type BuiltPackage } from '../../fixtures/channel/index.js';
import type { GitFixture } from '../../fixtures/git-repo.js';

export { recordsAt };

export function specFor(channelUrl: string, names: string[]): string {
  return `channels:\n  - ${channelUrl}\nenv:\n${names.map((n) => `  - ${n}\n`).join('')}`;
}

/**
 * Commits env.spec on `env` (when missing) and a manifest (env.lock + env.manifest) on
 * `manifest/<env>` dated `date`, then tags it `tag`.
 */
export async function tagLock(fx: GitFixture, env: string, tag: string, channelUrl: string, pkgs: readonly BuiltPackage[], date: string): Promise<string> {
  const records = recordsAt(channelUrl, pkgs);
  const spec = specFor(
    channelUrl,
    pkgs.map((p) => p.record.name),
  );
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

const IDENTITY = {
  GIT_AUTHOR_NAME: 'Reliability Author',
  GIT_AUTHOR_EMAIL: 'author@example.org',
  GIT_COMMITTER_NAME: 'Reliability Committer',
  GIT_COMMITTER_EMAIL: 'committer@example.org',
};

/** Runs git in `cwd` with `input` on stdin; resolves to trimmed stdout. */
export function gitWith(cwd: string, args: string[], input?: string | Buffer, env: NodeJS.ProcessEnv = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('git', args, {
      cwd,
      env: { ...process.env, ...IDENTITY, GIT_TERMINAL_PROMPT: '0', ...env },
      stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on('data', (d: Buffer) => out.push(d));
    child.stderr?.on('data', (d: Buffer) => err.push(d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(Buffer.concat(out).toString('utf8').trim()) : reject(new Error(`git ${args.join(' ')}: ${Buffer.concat(err).toString()}`))));
    child.stdin?.end(input);
  });
}

/**
 * Writes branches and tags straight into a bare repository with plumbing (no clone, no checkout):
 * fast enough to make dozens of environments, and able to make names porcelain refuses (`-x`).
 */
export class PlumbingRepo {
  constructor(readonly dir: string) {}

  /** A tree of `files` (paths with `/` make subtrees); returns its id. */
  async tree(files: Record<string, string | Buffer>): Promise<string> {
    const here: string[] = [];
    const sub = new Map<string, Record<string, string | Buffer>>();
    for (const [p, content] of Object.entries(files)) {
      const slash = p.indexOf('/');
      if (slash < 0) {
        const blob = await gitWith(this.dir, ['hash-object', '-w', '--stdin'], content);
        here.push(`100644 blob ${blob}\t${p}`);
      } else {
        const [head, rest] = [p.slice(0, slash), p.slice(slash + 1)];
        sub.set(head, { ...sub.get(head), [rest]: content });
      }
    }
    for (const [name, inner] of sub) here.push(`040000 tree ${await this.tree(inner)}\t${name}`);
    return gitWith(this.dir, ['mktree', '-z'], here.map((l) => l + '\0').join(''));
  }

  /** A commit of exactly `files` on `branch` (on top of its head when it has one). */
  async commit(branch: string, files: Record<string, string | Buffer>, date: string, message = `Update ${branch}`): Promise<string> {
    const tree = await this.tree(files);
    const parent = await gitWith(this.dir, ['rev-parse', '--verify', '--quiet', `refs/heads/${branch}`]).catch(() => '');
    const dates = { GIT_AUTHOR_DATE: date, GIT_COMMITTER_DATE: date };
    const commit = await gitWith(this.dir, ['commit-tree', tree, ...(parent ? ['-p', parent] : []), '-m', message], undefined, dates);
    await gitWith(this.dir, ['update-ref', `refs/heads/${branch}`, commit]);
    return commit;
  }

  async tag(name: string, rev: string, date: string): Promise<void> {
    await gitWith(this.dir, ['tag', '-a', '-m', `Automatic tag.`, name, rev], undefined, { GIT_COMMITTER_DATE: date });
  }

  /** An environment at one tag: env.spec on `env`, a manifest for `pkgs` on `manifest/<env>`, tagged. */
  async envAt(env: string, tag: string, channelUrl: string, pkgs: readonly BuiltPackage[], date: string, labels: Record<string, string> = {}): Promise<void> {
    const records = recordsAt(channelUrl, pkgs);
    const spec = specFor(
      channelUrl,
      pkgs.map((p) => p.record.name),
    );
    const labelFiles = Object.fromEntries(Object.entries(labels).map(([l, t]) => [`labels/${l}.txt`, `${t}\n`]));
    await this.commit(env, { 'env.spec': spec, ...labelFiles }, date);
    const lock = formatLock(records, { platform: 'linux-64', env });
    const manifest = await this.commit(`manifest/${env}`, { 'env.spec': spec, 'env.lock': lock, 'env.manifest': formatManifest(records) }, date, `Manifest update for ${env}`);
    await this.tag(tag, manifest, date);
  }
}
