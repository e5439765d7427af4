/**
 * The environments repository, read with ONE fetch of every branch and tag into a temporary bare
 * repository (never a checkout) and written with plumbing commits and pushes.
 *
 * Public API (the phases code against this):
 *
 *   const repo = await EnvRepository.open({ repository, token, workDir, logger, env });
 *   try {
 *     repo.displayName                           // the remote for messages, credentials removed
 *     const snap = await repo.snapshot();        // envs (with labels), manifests, tags; warns per skipped branch
 *     snap.envs: EnvBranch[]                     // {name, branch, commit, labels: {label: tag}}
 *     snap.manifests: ManifestHead[]             // {env, branch, commit, committerDate}
 *     snap.tags: TagRef[]                        // gitenv tags {name, env, deployedName, commit, committerDate, annotated}
 *     snap.tagNames: Set<string>                 // every tag name, gitenv's or not
 *     tagsOf(snap, env) / latestTag(snap, env)   // `latest`: newest commit date, ties to the greater name
 *     await repo.readFile(rev, 'env.spec')       // Buffer | undefined (rev: sha, branch name or refs/...)
 *     await repo.readFiles([{rev, path}, ...])   // one git process for many files
 *     await repo.writeCommit(parent, {'labels/next.txt': 'env-x-2020_01_01\n', 'gone.txt': null}, msg)
 *                                                // -> {commit, changed}; nothing is checked out
 *     await repo.makeTag(name, commit, message)  // annotated tag object (not under a ref yet)
 *     await repo.push([{src: sha, dst: 'refs/heads/b'}, ...])   // several refs, atomically
 *     await repo.updateBranch(branch, async (head) => ({files, message}) | undefined, {dryRun})
 *                                                // commit on the head, push; when the remote moved,
 *                                                // fetch, redo the change on the new head, push again
 *     await repo.retryWhenStale(async (attempt) => {...})   // same loop for any push (autotag)
 *     await repo.isAncestor(a, b)                // merge-base --is-ancestor
 *     await repo.refresh([branches])             // fetch again (all, or just these branches)
 *     await repo.resolveRef(rev)                 // the commit, or undefined
 *     await repo.fetchRef(remoteRef, localRef)   // one ref the remote may lack (refs/pull/7/head)
 *     await repo.sameTreeAndParents(a, b)        // commits that differ at most in message and dates
 *   (the GitCommandManager stays private: every git command is a named method of it)
 *   } finally {
 *     await repo.close();                        // removes the temporary repository
 *   }
 *
 * Errors: ConfigurationError (bad repository, branch checked out in a non-bare remote),
 * CommandError (git failed; the message says what, with stderr's tail), PushRejectedError (refused
 * for another reason than a race, or the race went on past the retries).
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { GitCommandManager, parseTree, type TreeEntry } from '../git/git-command-manager.js';
import { parsePushPorcelain, PushRejectedError } from '../git/push.js';
import type { RetryPolicy } from '../net/retry.js';
import { CommandError, ConfigurationError, tailLines } from '../util/errors.js';
import { globMatcher } from '../util/glob.js';
import type { Logger } from '../util/logger.js';
import { redactUrls, splitCredentials } from '../util/secrets.js';
import { CLONE_PREFIX, sweepOldClones, writeCloneOwner } from './temp-sweep.js';
import { ENV_SPEC_FILE, envNameProblem, labelNameProblem, MANIFEST_PREFIX, WORK_PREFIX } from './names.js';
import { compareTagNames, latestOf, parseTag } from './tags.js';

export interface OpenOptions {
  /** Git URL (https://, file://, ssh) or local path. */
  repository: string;
  token?: string;
  /** Where the temporary repository goes (default: the OS temp directory). */
  workDir?: string;
  logger: Logger;
  /** Environment for git (tests); default process.env. */
  env?: NodeJS.ProcessEnv;
  retry?: RetryPolicy;
}

/** The repository a phase names in its settings (repository, token, workDir), with its services. */
export function openForPhase(settings: { repository: string; token?: string; workDir?: string }, services: { logger: Logger; env?: NodeJS.ProcessEnv }): Promise<EnvRepository> {
  return EnvRepository.open({ repository: settings.repository, token: settings.token, workDir: settings.workDir, logger: services.logger, env: services.env });
}

export interface EnvBranch {
  /** The environment's name, which is the branch's name. */
  name: string;
  branch: string;
  commit: string;
  /** Stored labels (`labels/<label>.txt`): label → tag name, white space trimmed. */
  labels: Record<string, string>;
}

export interface ManifestHead {
  env: string;
  /** `manifest/<env>`. */
  branch: string;
  commit: string;
  committerDate: Date;
}

export interface TagRef {
  name: string;
  env: string;
  deployedName: string;
  /** The commit the tag points at (peeled). */
  commit: string;
  /** That commit's committer date. */
  committerDate: Date;
  annotated: boolean;
}

export interface RepositorySnapshot {
  envs: EnvBranch[];
  manifests: ManifestHead[];
  /** gitenv tags (`env-<env>-<date>[-N]`), oldest name first. */
  tags: TagRef[];
  /** Every tag name in the repository, gitenv's or not (a new tag must avoid them all). */
  tagNames: Set<string>;
  /** Every branch name → its head commit. */
  branches: Map<string, string>;
}

/** Files for a commit: path → content; `null` deletes the path. */
export type FileChanges = Record<string, string | Buffer | null>;

export interface BranchChange {
  files: FileChanges;
  message: string;
}

export interface BranchUpdate {
  /** The commit made (also in dry-run, where it is not pushed); undefined when nothing changed. */
  commit?: string;
  pushed: boolean;
  /** Attempts it took (more than 1 after a race). */
  attempts: number;
}

export interface RefUpdate {
  /** A commit or tag object id. */
  src: string;
  /** Full ref name on the remote (`refs/heads/x`, `refs/tags/y`). */
  dst: string;
  /** Replace the remote ref even when that is no fast-forward (resolve's `gitenv/update/<env>`). */
  force?: boolean;
}

const DEFAULT_PUSH_ATTEMPTS = 5;

export class EnvRepository {
  /** Warnings already given: a snapshot taken again after a race does not repeat them. */
  private readonly warned = new Set<string>();

  private constructor(
    private readonly git: GitCommandManager,
    /** What git fetches from and pushes to (credentials removed). */
    private readonly remote: string,
    private readonly tempDir: string,
    private readonly logger: Logger,
  ) {}

  /** The repository as shown in messages (credentials removed). */
  get displayName(): string {
    return redactUrls(this.remote);
  }

  /** Creates a temporary bare repository and fetches every branch and tag of `repository` into it. */
  static async open(options: OpenOptions): Promise<EnvRepository> {
    const { url, token } = remoteOf(options.repository);
    const base = options.workDir ?? os.tmpdir();
    await fs.mkdir(base, { recursive: true });
    await sweepOldClones(base, options.logger);
    const tempDir = await fs.mkdtemp(path.join(base, CLONE_PREFIX));
    try {
      await writeCloneOwner(tempDir);
      const git = await GitCommandManager.create(path.join(tempDir, 'repo.git'), {
        logger: options.logger,
        token: options.token ?? token,
        tokenUrl: url,
        env: options.env,
        retry: options.retry,
      });
      await git.cloneBare(url);
      return new EnvRepository(git, url, tempDir, options.logger);
    } catch (err) {
      await fs.rm(tempDir, { recursive: true, force: true });
      throw err;
    }
  }

  /** Fetches again: every branch and tag, or only the given branches. */
  async refresh(branches?: string[]): Promise<void> {
    const refspecs = branches ? branches.map((b) => `+refs/heads/${b}:refs/heads/${b}`) : ['+refs/heads/*:refs/heads/*', '+refs/tags/*:refs/tags/*'];
    await this.git.fetch(this.remote, refspecs, !branches);
  }

  /** Fetches one remote ref (e.g. `refs/pull/7/head`) into `localRef`: its commit, or undefined when the remote has no such ref. */
  async fetchRef(remoteRef: string, localRef: string): Promise<string | undefined> {
    if (!(await this.git.fetchIfPresent(this.remote, remoteRef, localRef))) return undefined;
    return this.git.resolveRef(localRef);
  }

  /** Deletes branches on the remote (and here); missing ones are no error. */
  async deleteBranches(branches: string[]): Promise<void> {
    if (branches.length === 0) return;
    const result = await this.git.push(
      this.remote,
      branches.map((b) => `:refs/heads/${b}`),
      false,
    );
    if (result.exitCode !== 0 && !/remote ref does not exist/.test(result.stderr)) {
      throw new CommandError('git', ['push', this.displayName, ...branches.map((b) => `:refs/heads/${b}`)], result.exitCode, tailLines(result.stderr), `git push to ${this.displayName} failed`);
    }
    for (const b of branches) await this.git.deleteRef(`refs/heads/${b}`);
  }

  async close(): Promise<void> {
    this.git.closeBatch();
    await fs.rm(this.tempDir, { recursive: true, force: true });
  }

  /**
   * Everything the phases need to know about the repository, from the fetched refs. `envs` (globs,
   * as the phases' input): only the environment branches they select are read (their env.spec and
   * labels); an empty list reads every one.
   */
  async snapshot(envs: readonly string[] = []): Promise<RepositorySnapshot> {
    // The branches' files are read next: the reader starts while the refs are listed.
    this.git.openBatch();
    const refs = await this.listRefs();
    const branches = new Map(refs.filter((r) => r.ref.startsWith('refs/heads/')).map((r) => [r.ref.slice(11), r.commit]));
    const tagRefs = refs.filter((r) => r.ref.startsWith('refs/tags/'));
    const tags: TagRef[] = [];
    for (const r of tagRefs) {
      const parsed = parseTag(r.ref.slice(10));
      if (!parsed || !r.commit) continue;
      tags.push({ name: r.ref.slice(10), env: parsed.env, deployedName: parsed.deployedName, commit: r.commit, committerDate: r.date, annotated: r.annotated });
    }
    tags.sort((a, b) => compareTagNames(a.name, b.name));
    const envBranches = await this.envBranches(branches, envs);
    const manifests: ManifestHead[] = [];
    for (const r of refs) {
      if (!r.ref.startsWith('refs/heads/' + MANIFEST_PREFIX)) continue;
      const env = r.ref.slice(11 + MANIFEST_PREFIX.length);
      const problem = envNameProblem(env);
      if (problem) {
        this.warnOnce(`Skipping branch ${r.ref.slice(11)}: ${problem}`);
        continue;
      }
      manifests.push({ env, branch: r.ref.slice(11), commit: r.commit, committerDate: r.date });
    }
    manifests.sort((a, b) => (a.env < b.env ? -1 : 1));
    return { envs: envBranches, manifests, tags, tagNames: new Set(tagRefs.map((r) => r.ref.slice(10))), branches };
  }

  /** A file at a revision (sha, branch or ref), or undefined when it does not exist there. */
  async readFile(rev: string, file: string): Promise<Buffer | undefined> {
    return (await this.readFiles([{ rev, path: file }]))[0];
  }

  /** Many files with one git process; undefined for each that does not exist. */
  async readFiles(requests: { rev: string; path: string }[]): Promise<(Buffer | undefined)[]> {
    const names = requests.map((r) => `${r.rev}:${r.path}`);
    const blobs = await this.git.readBlobs(names);
    return names.map((n) => blobs.get(n));
  }

  /** The names of the files at the root of `rev`'s tree (empty when `rev` does not exist). */
  async listFiles(rev: string): Promise<string[]> {
    const commit = await this.git.resolveRef(rev);
    if (!commit) return [];
    return (await this.git.lsTree(commit)).filter((e) => e.type === 'blob').map((e) => e.name);
  }

  /**
   * A commit of `parent`'s tree with `files` applied (nothing checked out). `changed` is false, and
   * `commit` the parent, when the tree came out the same.
   */
  async writeCommit(parent: string | undefined, files: FileChanges, message: string): Promise<{ commit: string; changed: boolean }> {
    const baseTree = parent ? await this.git.treeOf(parent) : undefined;
    const changes = new Map(Object.entries(files).map(([p, c]) => [p.replace(/^\/+/, ''), c]));
    const tree = (await this.buildTree(baseTree, changes)) ?? (await this.git.mktree([]));
    if (parent && tree === baseTree) return { commit: parent, changed: false };
    return { commit: await this.git.commitTree(tree, parent ? [parent] : [], message), changed: true };
  }

  /** An annotated tag object (not under any ref until pushed). */
  async makeTag(name: string, commit: string, message: string): Promise<string> {
    return this.git.mktag(name, commit, message);
  }

  /**
   * Pushes several refs at once (atomically when more than one), then records them locally.
   * Throws PushRejectedError when refused (`stale` when someone pushed first).
   */
  async push(updates: RefUpdate[]): Promise<void> {
    if (updates.length === 0) return;
    const refspecs = updates.map((u) => `${u.force ? '+' : ''}${u.src}:${u.dst}`);
    const result = await this.git.push(this.remote, refspecs, updates.length > 1);
    const refs = parsePushPorcelain(result.stdout.toString('utf8'));
    const rejected = refs.filter((r) => r.flag === '!');
    if (rejected.some((r) => /checked out/.test(r.reason ?? '')) || /refusing to update checked out branch/.test(result.stderr)) {
      const branch = (rejected.find((r) => /checked out/.test(r.reason ?? '')) ?? rejected[0])?.dst.replace(/^refs\/heads\//, '');
      throw new ConfigurationError(
        `Cannot push to ${this.displayName}: branch ${branch ?? '(unknown)'} is checked out there, and git refuses ` +
          'to push to the checked-out branch of a non-bare repository. Put that repository into "detached head" ' +
          `mode (for example, run "git checkout --detach" in ${this.displayName}) or use a bare repository, then run gitenv again.`,
      );
    }
    if (rejected.length > 0) throw new PushRejectedError(this.displayName, rejected);
    if (result.exitCode !== 0) {
      throw new CommandError('git', ['push', this.displayName, ...refspecs], result.exitCode, tailLines(result.stderr), `git push to ${this.displayName} failed`);
    }
    for (const u of updates) await this.git.updateRef(u.dst, u.src);
  }

  /**
   * Runs `attempt` (which plans from the fetched refs and pushes) until it succeeds; when a push is
   * refused because the remote moved, fetches everything again and lets it redo its work. Bounded.
   */
  async retryWhenStale<T>(attempt: (n: number) => Promise<T>, attempts = DEFAULT_PUSH_ATTEMPTS, only?: string[]): Promise<T> {
    for (let n = 1; ; n++) {
      try {
        return await attempt(n);
      } catch (err) {
        if (!(err instanceof PushRejectedError) || !err.stale || n >= attempts) throw err;
        this.logger.info(`${this.displayName} changed while we worked (${err.rejected.map((r) => r.dst).join(', ')}); fetching and trying again`);
        await this.refresh(only);
      }
    }
  }

  /**
   * Commits `change(head)` on `branch` and pushes it; after a race, redoes the change on the new
   * head. `change` returns undefined when there is nothing to do. The branch may not exist yet
   * (head undefined): the commit then has no parent.
   */
  async updateBranch(
    branch: string,
    change: (head: string | undefined, attempt: number) => Promise<BranchChange | undefined>,
    options: { dryRun?: boolean; attempts?: number } = {},
  ): Promise<BranchUpdate> {
    const ref = `refs/heads/${branch}`;
    return this.retryWhenStale(
      async (attempt) => {
        const head = await this.git.resolveRef(ref);
        const planned = await change(head, attempt);
        if (!planned) return { pushed: false, attempts: attempt };
        const { commit, changed } = await this.writeCommit(head, planned.files, planned.message);
        if (!changed) return { pushed: false, attempts: attempt };
        if (options.dryRun) return { commit, pushed: false, attempts: attempt };
        await this.push([{ src: commit, dst: ref }]);
        return { commit, pushed: true, attempts: attempt };
      },
      options.attempts,
      [branch],
    );
  }

  /** The commit a ref or revision names, or undefined when there is none here. */
  async resolveRef(rev: string): Promise<string | undefined> {
    return this.git.resolveRef(rev);
  }

  /** Whether two commits have the same tree and the same parents (they differ at most in message and dates). */
  async sameTreeAndParents(a: string, b: string): Promise<boolean> {
    const [x, y] = await Promise.all([a, b].map((c) => this.git.treeAndParents(c)));
    return x === y;
  }

  /** A commit's author as `Name <email>`. */
  async authorOf(commit: string): Promise<string> {
    return this.git.author(commit);
  }

  /** Whether `ancestor` is `descendant` or one of its ancestors. */
  async isAncestor(ancestor: string, descendant: string): Promise<boolean> {
    return this.git.isAncestor(ancestor, descendant);
  }

  private warnOnce(message: string): void {
    if (this.warned.has(message)) return;
    this.warned.add(message);
    this.logger.warning(message);
  }

  private async listRefs(): Promise<{ ref: string; commit: string; date: Date; annotated: boolean }[]> {
    const fields = ['%(refname)', '%(objecttype)', '%(objectname)', '%(*objectname)', '%(committerdate:raw)', '%(*committerdate:raw)'];
    return (await this.git.forEachRef(fields, ['refs/heads', 'refs/tags'])).map(([ref, type, sha, peeled, date, peeledDate]) => {
      const annotated = type === 'tag';
      const raw = annotated ? peeledDate : date;
      return { ref, commit: annotated ? peeled : type === 'commit' ? sha : '', date: new Date(Number(raw.split(' ')[0]) * 1000), annotated };
    });
  }

  /**
   * Branches with env.spec at their root, named by the rules, with their labels: of those `globs`
   * select, every branch when empty. Two reads of the kept-open `cat-file --batch` whatever the
   * number of branches: one of every branch's env.spec and labels tree, one of every label file.
   */
  private async envBranches(branches: Map<string, string>, globs: readonly string[]): Promise<EnvBranch[]> {
    const selected = globMatcher(globs);
    const candidates = [...branches.keys()].filter((b) => !b.startsWith(MANIFEST_PREFIX) && !b.startsWith(WORK_PREFIX) && selected(b)).sort();
    const at = (branch: string, file: string) => `${branches.get(branch) as string}:${file}`;
    const objects = await this.git.readObjects(candidates.flatMap((b) => [at(b, ENV_SPEC_FILE), at(b, 'labels')]));
    // Decide first, warn after the label files are read: warnings keep branch order.
    const decided = candidates.map((branch) => {
      if (objects.get(at(branch, ENV_SPEC_FILE))?.type !== 'blob') return { branch, skip: `Branch ${branch} has no ${ENV_SPEC_FILE}: not an environment` };
      const problem = envNameProblem(branch);
      if (problem) return { branch, warn: `Skipping branch ${branch}: ${problem}` };
      const labels = objects.get(at(branch, 'labels'));
      const entries = labels?.type === 'tree' ? parseTree(labels.data, labels.sha.length) : [];
      return { branch, labelFiles: entries.filter((e) => e.type === 'blob' && e.name.endsWith('.txt')) };
    });
    const blobs = await this.git.readBlobs([...new Set(decided.flatMap((d) => d.labelFiles?.map((e) => e.sha) ?? []))]);
    const envs: EnvBranch[] = [];
    for (const d of decided) {
      if (d.skip) this.logger.debug(d.skip);
      else if (d.warn) this.warnOnce(d.warn);
      else envs.push({ name: d.branch, branch: d.branch, commit: branches.get(d.branch) as string, labels: this.parseLabels(d.branch, d.labelFiles ?? [], blobs) });
    }
    return envs;
  }

  /** `labels/<label>.txt` → label: tag, skipping (with a warning) names the rules refuse. */
  private parseLabels(branch: string, files: TreeEntry[], blobs: Map<string, Buffer | undefined>): Record<string, string> {
    const labels: Record<string, string> = {};
    for (const e of files) {
      const label = e.name.slice(0, -4);
      const problem = labelNameProblem(label);
      if (problem) {
        this.warnOnce(`Skipping labels/${e.name} on branch ${branch}: ${problem}`);
        continue;
      }
      labels[label] = (blobs.get(e.sha) ?? Buffer.alloc(0)).toString('utf8').trim();
    }
    return labels;
  }

  /** Applies `changes` to the tree `base` (undefined: empty); undefined when the result is empty. */
  private async buildTree(base: string | undefined, changes: Map<string, string | Buffer | null>): Promise<string | undefined> {
    const entries = new Map((await this.git.lsTree(base)).map((e) => [e.name, e]));
    const nested = new Map<string, Map<string, string | Buffer | null>>();
    for (const [file, content] of changes) {
      const slash = file.indexOf('/');
      if (slash >= 0) {
        const dir = file.slice(0, slash);
        if (!nested.has(dir)) nested.set(dir, new Map());
        nested.get(dir)?.set(file.slice(slash + 1), content);
      } else if (content === null) {
        entries.delete(file);
      } else {
        const mode = entries.get(file)?.mode === '100755' ? '100755' : '100644';
        entries.set(file, { mode, type: 'blob', sha: await this.git.hashObject(content), name: file });
      }
    }
    for (const [dir, sub] of nested) {
      const existing = entries.get(dir);
      const tree = await this.buildTree(existing?.type === 'tree' ? existing.sha : undefined, sub);
      if (tree) entries.set(dir, { mode: '040000', type: 'tree', sha: tree, name: dir });
      else entries.delete(dir);
    }
    if (entries.size === 0) return undefined;
    return this.git.mktree([...entries.values()]);
  }
}

/** The environment's tags, oldest name first. */
export function tagsOf(snapshot: RepositorySnapshot, env: string): TagRef[] {
  return snapshot.tags.filter((t) => t.env === env);
}

/** `latest` of one environment (the rule is `latestOf`'s). */
export function latestTag(snapshot: RepositorySnapshot, env: string): TagRef | undefined {
  return latestOf(
    tagsOf(snapshot, env),
    (t) => t.name,
    (t) => t.committerDate,
  );
}

/** A URL stays a URL (credentials moved out); anything else is a local path, made absolute. */
function remoteOf(repository: string): { url: string; token?: string } {
  const trimmed = repository.trim();
  if (trimmed === '') throw new ConfigurationError('The repository is empty: give a git URL or a local path');
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed)) {
    // A user who pasted credentials into the URL still gets header auth: the password (or a lone user) is the token.
    const { url, user, password } = splitCredentials(trimmed);
    return { url, token: password || user || undefined };
  }
  if (/^[^/\s]+@[^/\s:]+:/.test(trimmed)) return { url: trimmed }; // scp-like ssh: git@host:org/repo
  return { url: path.resolve(trimmed) };
}
