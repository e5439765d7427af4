import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as io from '@actions/io';
import { DEFAULT_RETRY, retryDelay, sleep, type RetryPolicy } from '../net/retry.js';
import { CommandError, ConfigurationError, tailLines } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import { redactUrls } from '../util/secrets.js';
import { authHeaderConfig } from './auth.js';
import { CatFileBatch } from './cat-file-batch.js';

/**
 * The one wrapper around the git CLI (actions/checkout's shape): every call builds an argument
 * array and goes through `exec`, with prompts disabled, English messages, the token (if any) passed
 * through GIT_CONFIG_* variables so it is in neither the arguments nor a URL, and network commands
 * retried when — and only when — the failure looks like the network's.
 */

export interface GitOptions {
  logger: Logger;
  /** Token for https remotes, sent as an Authorization header to `tokenUrl`'s origin only. */
  token?: string;
  /** The remote the token is for. */
  tokenUrl?: string;
  /** Base environment for git (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Retries of network commands. */
  retry?: RetryPolicy;
}

export interface ExecOptions {
  /** Written to git's stdin. */
  input?: string | Buffer;
  /** A fetch or push: retried on network failures. */
  network?: boolean;
  /** Exit codes that are answers rather than failures (e.g. 1 for `merge-base --is-ancestor`). */
  okCodes?: number[];
  /** Summary line for the error, instead of `git <args> failed`. */
  what?: string;
  /** Run without `--git-dir` (a clone, which makes the repository). */
  outside?: boolean;
  /** Before a network retry (a clone: what the failed attempt left is removed). */
  beforeRetry?: () => Promise<void>;
}

export interface GitResult {
  exitCode: number;
  stdout: Buffer;
  stderr: string;
}

/** One entry of a tree (`ls-tree` / `mktree`). */
export interface TreeEntry {
  mode: string;
  type: 'blob' | 'tree' | 'commit';
  sha: string;
  name: string;
}

/** An object as `cat-file --batch` gives it. */
export interface GitObject {
  sha: string;
  type: string;
  data: Buffer;
}

const AUTH_FAILURE = /Authentication failed|could not read (Username|Password)|terminal prompts disabled|returned error: (401|403)|HTTP Basic: Access denied|Permission denied \(publickey/i;
const NETWORK_FAILURE =
  /Could not resolve host|Failed to connect|Connection (timed out|refused|reset)|Operation timed out|early EOF|remote end hung up unexpectedly|RPC failed|unexpected disconnect|returned error: 5\d\d|Empty reply from server|transfer closed|gnutls_handshake|SSL_ERROR|TLS connection was non-properly terminated/i;

const MAX_STDERR = 64 * 1024;

/** Commands that change nothing in the repository (the kept-open `cat-file --batch` stays). */
const READ_ONLY = new Set(['cat-file', 'for-each-ref', 'rev-parse', 'ls-tree', 'rev-list', 'merge-base', 'show', 'log', 'diff', 'diff-tree', 'version', '--version']);

export class GitCommandManager {
  private readonly env: NodeJS.ProcessEnv;
  private readonly retry: RetryPolicy;
  private batch: CatFileBatch | undefined;
  private identityChecked = false;

  private constructor(
    private readonly gitPath: string,
    /** The repository every command runs in (`--git-dir`); `init` creates it. */
    readonly gitDir: string,
    private readonly options: GitOptions,
  ) {
    this.retry = options.retry ?? DEFAULT_RETRY;
    this.env = gitEnvironment(options.env ?? process.env, options);
  }

  /** Finds git on the PATH and binds the manager to `gitDir` (which need not exist yet). */
  static async create(gitDir: string, options: GitOptions): Promise<GitCommandManager> {
    const gitPath = await io.which('git', true);
    if (options.token && options.tokenUrl && authHeaderConfig(options.tokenUrl, options.token)) {
      const env = { ...(options.env ?? process.env), GIT_TERMINAL_PROMPT: '0', GIT_DIR: gitDir };
      await requireGitVersion(gitPath, env, [2, 31], 'to send a token as a header (GIT_CONFIG_COUNT)');
    }
    return new GitCommandManager(gitPath, gitDir, options);
  }

  /**
   * Before the first command that records an identity (commit-tree, the tagger of mktag): the user's
   * and the system's configured one, else (and unless GIT_AUTHOR_NAME or GIT_COMMITTER_NAME is set)
   * a bot identity. Looked up then, not when the manager is made: a deploy never records one, and a
   * git started costs a few milliseconds.
   */
  private async ensureIdentity(): Promise<void> {
    if (this.identityChecked) return;
    this.identityChecked = true;
    if (this.env.GIT_AUTHOR_NAME || this.env.GIT_COMMITTER_NAME) return;
    // Only the user's and the system's configuration count (our own repository has none), never a
    // repository that happens to be the working directory. One process for both keys:
    // `--get-regexp` prints the (lower-cased) key first on each line.
    const identity = await runGit(this.gitPath, ['config', '--get-regexp', '^user\\.(name|email)$'], { ...this.env, GIT_DIR: this.gitDir });
    const keys = new Set(
      identity.stdout
        .toString('utf8')
        .split('\n')
        .map((line) => line.split(' ')[0]),
    );
    if (keys.has('user.name') && keys.has('user.email')) return;
    const bot = (this.options.env ?? process.env).GITHUB_ACTIONS === 'true';
    const name = bot ? 'github-actions[bot]' : 'gitenv';
    const email = bot ? '41898282+github-actions[bot]@users.noreply.github.com' : 'gitenv@localhost';
    Object.assign(this.env, { GIT_AUTHOR_NAME: name, GIT_COMMITTER_NAME: name, GIT_AUTHOR_EMAIL: email, GIT_COMMITTER_EMAIL: email });
  }

  /** Runs git in `gitDir`; throws CommandError unless the exit code is 0 or in `okCodes`. */
  async exec(args: string[], opts: ExecOptions = {}): Promise<GitResult> {
    // A command that may change objects or refs ends the kept-open reader: the next read starts one
    // that sees the change.
    if (!READ_ONLY.has(args[0])) this.closeBatch();
    const full = opts.outside ? args : ['--git-dir', this.gitDir, ...args];
    for (let attempt = 1; ; attempt++) {
      this.options.logger.debug(`git ${args.map(redactUrls).join(' ')}`);
      const result = await runGit(this.gitPath, full, this.env, opts.input);
      if (result.exitCode === 0) return result;
      // Checked before okCodes: a push cut off by the network also exits 1. Retrying a push is
      // safe, as refs that made it the first time are then up to date.
      const retryable = opts.network && !AUTH_FAILURE.test(result.stderr) && NETWORK_FAILURE.test(result.stderr);
      if (!retryable || attempt >= this.retry.attempts) {
        if (opts.okCodes?.includes(result.exitCode)) return result;
        throw this.failure(args, result, opts.what);
      }
      const delay = retryDelay(this.retry, attempt);
      this.options.logger.info(`git ${args[0]} failed (${tailLines(redactUrls(result.stderr), 1)}); retrying in ${Math.round(delay)} ms`);
      await sleep(delay);
      await opts.beforeRetry?.();
    }
  }

  /** stdout of a command that must succeed, as trimmed text. */
  async text(args: string[], opts: ExecOptions = {}): Promise<string> {
    return (await this.exec(args, opts)).stdout.toString('utf8').trim();
  }

  async init(): Promise<void> {
    // No template: sample hooks are copied for nothing, and a user's template could bring hooks
    // that would run in this temporary repository.
    await this.exec(['init', '--bare', '--quiet', '--template=']);
  }

  /**
   * Makes `gitDir` a bare clone of `remote`: its branches and tags, with their objects. One git
   * where `init` and `fetch` took two, and the refs written as one packed-refs file, not a file each
   * (a repository with years of daily tags has thousands). A local path goes through git's transport
   * (`--no-local`), as a fetch does: nothing of the origin's object store is hard-linked or copied
   * as is. No template: sample hooks are copied for nothing, and a user's template could bring hooks
   * that would run in this temporary repository.
   */
  async cloneBare(remote: string): Promise<void> {
    const args = ['clone', '--bare', '--quiet', '--no-local', '--template=', remote, this.gitDir];
    await this.exec(args, {
      network: true,
      outside: true,
      what: `git clone from ${redactUrls(remote)} failed`,
      beforeRetry: () => fs.rm(this.gitDir, { recursive: true, force: true }),
    });
  }

  /** Fetches `refspecs` from `remote` (a URL or a local path). */
  async fetch(remote: string, refspecs: string[], prune = true): Promise<void> {
    const args = ['fetch', '--quiet', '--no-tags', '--update-head-ok', ...(prune ? ['--prune'] : []), remote, ...refspecs];
    await this.exec(args, { network: true, what: `git fetch from ${redactUrls(remote)} failed` });
  }

  /** Pushes `refspecs`; returns git's porcelain output and exit code for the caller to judge. */
  async push(remote: string, refspecs: string[], atomic: boolean): Promise<GitResult> {
    const args = ['push', '--porcelain', '--no-verify', ...(atomic ? ['--atomic'] : []), remote, ...refspecs];
    return this.exec(args, { network: true, okCodes: [1], what: `git push to ${redactUrls(remote)} failed` });
  }

  /**
   * Fetches one ref that the remote may not have (`refs/pull/7/head`): false when it has none,
   * a CommandError for any other failure.
   */
  async fetchIfPresent(remote: string, remoteRef: string, localRef: string): Promise<boolean> {
    const result = await this.exec(['fetch', '--quiet', '--no-tags', remote, `+${remoteRef}:${localRef}`], { network: true, okCodes: [1, 128] });
    if (result.exitCode === 0) return true;
    if (/couldn't find remote ref/i.test(result.stderr)) return false;
    throw this.failure(['fetch', remote, `+${remoteRef}:${localRef}`], result, `git fetch of ${remoteRef} from ${redactUrls(remote)} failed`);
  }

  /** The rows of `for-each-ref` over `patterns`, one array of `fields` (format atoms) per ref. */
  async forEachRef(fields: string[], patterns: string[]): Promise<string[][]> {
    const out = await this.text(['for-each-ref', `--format=${fields.join('%00')}`, ...patterns]);
    return out
      .split('\n')
      .filter(Boolean)
      .map((line) => line.split('\0'));
  }

  /** The tree of a commit. */
  async treeOf(commit: string): Promise<string> {
    return this.text(['rev-parse', `${commit}^{tree}`]);
  }

  /** A commit's tree and parents, as one comparable string (equal for commits that differ only in message or dates). */
  async treeAndParents(commit: string): Promise<string> {
    return this.text(['rev-parse', `${commit}^{tree}`, `${commit}^@`]);
  }

  /** A commit's author as `Name <email>`. */
  async author(commit: string): Promise<string> {
    return this.text(['log', '-1', '--format=%an <%ae>', commit]);
  }

  async hashObject(content: string | Buffer): Promise<string> {
    return this.text(['hash-object', '-w', '--stdin'], { input: content });
  }

  /** The entries of a tree (not recursive); empty when `treeish` is undefined. */
  async lsTree(treeish: string | undefined): Promise<TreeEntry[]> {
    if (treeish === undefined) return [];
    const out = (await this.exec(['ls-tree', '-z', treeish])).stdout.toString('utf8');
    return out
      .split('\0')
      .filter(Boolean)
      .map((line) => {
        const tab = line.indexOf('\t');
        const [mode, type, sha] = line.slice(0, tab).split(' ');
        return { mode, type: type as TreeEntry['type'], sha, name: line.slice(tab + 1) };
      });
  }

  async mktree(entries: TreeEntry[]): Promise<string> {
    const input = entries.map((e) => `${e.mode} ${e.type} ${e.sha}\t${e.name}\0`).join('');
    return this.text(['mktree', '-z'], { input });
  }

  async commitTree(tree: string, parents: string[], message: string): Promise<string> {
    await this.ensureIdentity();
    const args = ['commit-tree', '--no-gpg-sign', tree, ...parents.flatMap((p) => ['-p', p]), '-F', '-'];
    return this.text(args, { input: message.endsWith('\n') ? message : message + '\n' });
  }

  /**
   * An annotated tag object for `commit`, written with `mktag` and not (yet) under any ref, so a
   * push that fails leaves nothing behind. Returns the tag object's id.
   */
  async mktag(name: string, commit: string, message: string): Promise<string> {
    await this.ensureIdentity();
    const tagger = await this.text(['var', 'GIT_COMMITTER_IDENT']);
    const body = `object ${commit}\ntype commit\ntag ${name}\ntagger ${tagger}\n\n${message.endsWith('\n') ? message : message + '\n'}`;
    return this.text(['mktag'], { input: body });
  }

  async updateRef(ref: string, value: string): Promise<void> {
    await this.exec(['update-ref', ref, value]);
  }

  async deleteRef(ref: string): Promise<void> {
    await this.exec(['update-ref', '-d', ref]);
  }

  /** The object a ref or revision names, or undefined when it does not exist. */
  async resolveRef(rev: string): Promise<string | undefined> {
    const r = await this.exec(['rev-parse', '--verify', '--quiet', `${rev}^{commit}`], { okCodes: [1, 128] });
    return r.exitCode === 0 ? r.stdout.toString('utf8').trim() : undefined;
  }

  async isAncestor(ancestor: string, descendant: string): Promise<boolean> {
    const r = await this.exec(['merge-base', '--is-ancestor', ancestor, descendant], { okCodes: [1] });
    return r.exitCode === 0;
  }

  /**
   * Reads many objects (`<rev>:<path>` or a sha) with one `cat-file --batch`; a missing one maps
   * to undefined, as does one that is not a blob.
   */
  async readBlobs(names: string[]): Promise<Map<string, Buffer | undefined>> {
    const objects = await this.readObjects(names);
    return new Map(names.map((n) => [n, objects.get(n)?.type === 'blob' ? objects.get(n)?.data : undefined]));
  }

  /**
   * Many objects of any type from the `cat-file --batch` kept open (cat-file-batch.ts); undefined for
   * each that is missing. Should that process fail, one `cat-file --batch` of their own reads them.
   * A name with a line break (a path from repository data) names nothing: it is never sent, where it
   * would read as two names and shift every answer after it.
   */
  async readObjects(names: string[]): Promise<Map<string, GitObject | undefined>> {
    const sent = names.filter((n) => !/[\n\r\0]/.test(n));
    const found = new Map<string, GitObject | undefined>(names.map((n) => [n, undefined]));
    if (sent.length === 0) return found;
    const batch = this.openBatch();
    let read: Map<string, GitObject | undefined>;
    try {
      read = await batch.read(sent);
    } catch {
      this.closeBatch();
      read = await this.readObjectsOnce(sent);
    }
    for (const [n, o] of read) found.set(n, o);
    return found;
  }

  /**
   * The `cat-file --batch` kept open, started now if there is none: a caller about to read after
   * another command starts it first, so that its start overlaps that command.
   */
  openBatch(): CatFileBatch {
    if (!this.batch || this.batch.failed) {
      this.options.logger.debug('git cat-file --batch (kept open for the reads that follow)');
      this.batch = new CatFileBatch(this.gitPath, this.gitDir, this.env);
    }
    return this.batch;
  }

  /** Ends the `cat-file --batch` kept open, if any (before anything changes the repository, and when done). */
  closeBatch(): void {
    this.batch?.close();
    this.batch = undefined;
  }

  private async readObjectsOnce(names: string[]): Promise<Map<string, GitObject | undefined>> {
    const found = new Map<string, GitObject | undefined>();
    const out = (await this.exec(['cat-file', '--batch'], { input: names.map((n) => n + '\n').join('') })).stdout;
    let pos = 0;
    for (const name of names) {
      const eol = out.indexOf(0x0a, pos);
      const header = out.subarray(pos, eol).toString('utf8');
      pos = eol + 1;
      const m = /^([0-9a-f]+) (\w+) (\d+)$/.exec(header);
      if (!m) {
        found.set(name, undefined); // "<name> missing" or "ambiguous"
        continue;
      }
      const size = Number(m[3]);
      found.set(name, { sha: m[1], type: m[2], data: Buffer.from(out.subarray(pos, pos + size)) });
      pos += size + 1;
    }
    return found;
  }

  private failure(args: string[], result: GitResult, what?: string): CommandError {
    const tail = tailLines(redactUrls(result.stderr), 10); // git quotes the URL it could not reach
    const shown = args.map(redactUrls);
    if (AUTH_FAILURE.test(result.stderr)) {
      const summary =
        `${what ?? 'git ' + args[0] + ' failed'}: the remote refused the credentials or asked for some. ` +
        'Give a token that may read and push the repository (action input token, or --token / GITENV_TOKEN)';
      return new CommandError('git', shown, result.exitCode, tail, summary);
    }
    return new CommandError('git', shown, result.exitCode, tail, what);
  }
}

/** The environment every git process gets. */
function gitEnvironment(base: NodeJS.ProcessEnv, options: GitOptions): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base, GIT_TERMINAL_PROMPT: '0', LC_ALL: 'C', LANGUAGE: 'C' };
  // The repository is temporary: no background gc or maintenance may outlive it.
  const config: [string, string][] = [
    ['gc.auto', '0'],
    ['maintenance.auto', 'false'],
  ];
  if (options.token && options.tokenUrl) {
    const header = authHeaderConfig(options.tokenUrl, options.token);
    if (header) {
      options.logger.setSecret(options.token);
      options.logger.setSecret(header.value);
      config.push([header.key, header.value]);
    }
  }
  // The identity commit-tree and mktag record: ensureIdentity, when first needed.
  let count = Number(env.GIT_CONFIG_COUNT ?? '0') || 0;
  for (const [key, value] of config) {
    env[`GIT_CONFIG_KEY_${count}`] = key;
    env[`GIT_CONFIG_VALUE_${count}`] = value;
    count++;
  }
  if (count > 0) env.GIT_CONFIG_COUNT = String(count);
  return env;
}

/** Refuses a git older than `min`, which would silently ignore what gitenv relies on. */
async function requireGitVersion(gitPath: string, env: NodeJS.ProcessEnv, min: [number, number], why: string): Promise<void> {
  const out = (await runGit(gitPath, ['--version'], env)).stdout.toString('utf8');
  const m = /(\d+)\.(\d+)/.exec(out);
  if (!m) return;
  const [major, minor] = [Number(m[1]), Number(m[2])];
  if (major > min[0] || (major === min[0] && minor >= min[1])) return;
  throw new ConfigurationError(`gitenv needs git ${min.join('.')} or newer ${why}; found ${out.trim()}`);
}

function runGit(gitPath: string, args: string[], env: NodeJS.ProcessEnv, input?: string | Buffer): Promise<GitResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(gitPath, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    const stdout: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => stdout.push(b));
    child.stderr.on('data', (b: Buffer) => {
      stderr = (stderr + b.toString('utf8')).slice(-MAX_STDERR);
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ exitCode: code ?? -1, stdout: Buffer.concat(stdout), stderr }));
    child.stdin.on('error', () => undefined); // git may exit before reading all of its input
    child.stdin.end(input ?? '');
  });
}

/**
 * The entries of a raw tree object (`<mode> <name>\0<binary id>` each), as `ls-tree` would list
 * them; `hexLength` is the repository's object id length in hex (40 for SHA-1, 64 for SHA-256).
 */
export function parseTree(data: Buffer, hexLength: number): TreeEntry[] {
  const idBytes = hexLength / 2;
  const entries: TreeEntry[] = [];
  let pos = 0;
  while (pos < data.length) {
    const space = data.indexOf(0x20, pos);
    const nul = data.indexOf(0, space);
    if (space < 0 || nul < 0 || nul + 1 + idBytes > data.length) throw new Error('malformed tree object');
    const mode = data.subarray(pos, space).toString('utf8').padStart(6, '0');
    const type: TreeEntry['type'] = mode === '040000' ? 'tree' : mode === '160000' ? 'commit' : 'blob';
    entries.push({ mode, type, sha: data.subarray(nul + 1, nul + 1 + idBytes).toString('hex'), name: data.subarray(space + 1, nul).toString('utf8') });
    pos = nul + 1 + idBytes;
  }
  return entries;
}
