/**
 * resolve: every environment branch's env.spec → `manifest/<env>` (env.manifest, env.lock and a
 * copy of env.spec), one commit only when one of the three changed, all changed branches pushed
 * together. One environment's failure is reported and the others go on.
 *
 * `mode: pull-request` proposes each change as a pull request into `manifest/<env>` instead (see
 * github/pull-requests.ts); `mode: check` on a pull request into an environment branch resolves
 * the pull request's env.spec and writes the would-be diff as one comment on it. Neither mode
 * pushes to a manifest branch, except that a brand-new environment's first manifest is pushed
 * directly: there is no base branch to open a pull request into, and an empty one made up for the
 * purpose would be tagged by autotag and deployed as an empty environment.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { checkRecords } from '../conda/record-check.js';
import type { PackageRecord } from '../conda/types.js';
import { virtualPackages } from '../conda/virtual-packages.js';
import type { SolverEngine } from '../engines/types.js';
import { checkCommentBody, upsertCheckComment, type CheckVerdict } from '../github/check-comment.js';
import type { GitHubClient, GitHubServices } from '../github/client.js';
import type { PullRequestEvent } from '../github/event.js';
import { manifestChangeInput } from '../github/manifest-change.js';
import { propose, pullRequestBody, pullRequestSummary, withdraw, type PullRequestOutcome, type ProposeContext } from '../github/pull-requests.js';
import { changeCounts, classifyChanges, renderManifestChange, specChange } from '../manifest/pr-body.js';
import { commitMessage, diffManifests, formatChange, platformCommitMessage, type ManifestDiff } from '../manifest/diff.js';
import { formatLock, parseLock } from '../manifest/lock.js';
import { formatManifestEntries, splitDist } from '../manifest/manifest.js';
import { isManifestFile, LOCK_FILE, MANIFEST_FILE, platformFileNames, platformsOfTree, type PlatformFiles } from '../manifest/platform-files.js';
import { resolveSummary } from '../manifest/summary.js';
import type { FetchLike } from '../net/fetch-like.js';
import { FetchWrapper } from '../net/fetch-wrapper.js';
import { ENV_SPEC_FILE, parseEnvSpec } from '../repo/env-spec.js';
import { checkVersionSpec } from '../repo/version-check.js';
import { EnvRepository, type EnvBranch, type FileChanges, type RefUpdate, openForPhase } from '../repo/env-repository.js';
import { manifestBranch } from '../repo/names.js';
import { expandChannels } from '../solver/channels.js';
import { OnDemandMicromambaSolver } from '../setup/on-demand.js';
import { RattlerSolver } from '../solver/rattler-solver.js';
import { solvePoolOptions } from '../solver/solve-pool.js';
import { ConfigurationError, errorMessage, HttpError } from '../util/errors.js';
import { matchesAny } from '../util/glob.js';
import type { Logger } from '../util/logger.js';
import type { FailedEnv, PhaseResult } from './result.js';
import type { ResolveSettings, Services } from './settings.js';

export interface ResolveResult extends PhaseResult {
  /**
   * Environments whose manifest changed (pushed, or would be in dry-run); in pull-request mode,
   * those with an open pull request (and new environments, pushed directly).
   */
  changed: string[];
  /** pull-request mode: each environment's pull request, opened, updated, kept or closed. */
  pullRequests?: PullRequestOutcome[];
}

export { LOCK_FILE, MANIFEST_FILE };

/**
 * The files of a manifest branch: env.spec, and env.manifest and env.lock for an environment of
 * one platform, or `env.<platform>.manifest` and `env.<platform>.lock` per platform for several.
 */
export type ManifestFiles = Record<string, string | Buffer>;

/** One platform of an environment: its solve and how it compares with the manifest branch. */
export interface PlatformOutcome {
  platform: string;
  records: PackageRecord[];
  manifest: string;
  diff: ManifestDiff;
  /** The file on the manifest branch this platform's manifest is compared with. */
  baseManifest?: string;
  /** Its manifest or lock differs from the manifest branch's. */
  changed: boolean;
}

/** What happened to one environment: solved (changed or not), or failed. */
export type EnvOutcome = SolvedEnv | FailedOutcome;

export interface SolvedEnv {
  env: string;
  status: 'changed' | 'unchanged';
  packages: number;
  diff: ManifestDiff;
  files: ManifestFiles;
  /** The solved records (sizes for the pull request's body); of the first platform. */
  records: PackageRecord[];
  /** Each platform, in the env.spec's order (one: the resolve platform). */
  platforms: PlatformOutcome[];
  /** The `manifest/<env>` head compared with; undefined when the branch does not exist. */
  base?: string;
}

export interface FailedOutcome {
  env: string;
  status: 'failed';
  error: string;
}

const isChanged = (o: EnvOutcome): o is SolvedEnv => o.status === 'changed';

/** The one place that picks the solver for the settings' engine. */
export function solverFor(settings: ResolveSettings, fetcher: FetchWrapper, env?: NodeJS.ProcessEnv): SolverEngine {
  switch (settings.engine) {
    case 'builtin':
      // Answers are kept beside the repodata they came from (the `cache` input saves both).
      return new RattlerSolver(fetcher, solvePoolOptions(env), { memoDir: path.join(defaultCacheDir(settings, env ?? process.env), 'solves') });
    case 'micromamba':
      return new OnDemandMicromambaSolver({
        env,
        workDir: settings.workDir,
        credentials: { apiUser: settings.apiUser, apiKey: settings.apiKey },
      });
  }
}

/**
 * Where repodata is cached between runs unless the settings say otherwise: the user's cache
 * directory, which outlives a job on self-hosted runners and between CLI runs (RUNNER_TEMP would not).
 */
/** Where resolve keeps its repodata cache: `cacheDir`, else `$XDG_CACHE_HOME/gitenv/repodata` (default `~/.cache`). */
export function defaultCacheDir(settings: ResolveSettings, env: NodeJS.ProcessEnv): string {
  if (settings.cacheDir) return settings.cacheDir;
  return path.join(env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'gitenv', 'repodata');
}

export async function resolve(settings: ResolveSettings, services: Services & GitHubServices): Promise<ResolveResult> {
  const { logger } = services;
  const env = services.env ?? process.env;
  if (settings.mode === 'pull-request' && !services.github) {
    throw new ConfigurationError('resolve mode "pull-request" needs the GitHub API: a token and the repository (GITHUB_REPOSITORY); the CLI cannot open pull requests');
  }
  for (const secret of [settings.apiUser, settings.apiKey, settings.token]) if (secret) logger.setSecret(secret);
  const fetcher = new FetchWrapper({ apiUser: settings.apiUser, apiKey: settings.apiKey, cacheDir: defaultCacheDir(settings, env), logger });
  const solver = solverFor(settings, fetcher, env);
  solver.warm?.();
  // check: report what would change (the summary and the log carry the diff), push nothing.
  const dryRun = settings.dryRun || settings.mode === 'check';
  const review = settings.mode === 'check' ? services.pullRequest : undefined;

  const repo = await openForPhase(settings, services).catch(async (err: unknown) => {
    await solver.close?.();
    throw err;
  });
  try {
    const snapshot = await repo.snapshot();
    const envs = review ? await reviewedEnv(repo, snapshot.envs, review, settings, logger) : snapshot.envs.filter((e) => matchesAny(e.name, settings.envs));
    if (envs.length === 0 && !review) logger.warning(`No environment branches${settings.envs.length ? ` matching ${settings.envs.join(' ')}` : ''} in ${repo.displayName}`);
    const ctx: EnvContext = { repo, solver, settings, logger, env };
    // Solves run ahead (one per solver thread); each environment is reported in its turn.
    const solving = startInOrder(envs, solver.concurrency ?? 1, (branch) => solveEnv(branch, ctx));
    const outcomes: EnvOutcome[] = [];
    for (const [i, branch] of envs.entries()) {
      const outcome = await logger.group(`Resolving ${branch.name}`, () => resolveEnv(branch, snapshot.branches.get(manifestBranch(branch.name)), ctx, solving[i]));
      outcomes.push(outcome);
    }
    const failed: FailedEnv[] = outcomes.flatMap((o) => (o.status === 'failed' ? [{ env: o.env, message: o.error }] : []));
    const extras = { repo, logger, fetch: fetcher.fetch, dryRun: settings.dryRun, platform: settings.platform };
    let result: ResolveResult;
    if (settings.mode === 'pull-request') {
      const ctx: ProposeContext = { repo, github: services.github as GitHubClient, logger, dryRun: settings.dryRun, branches: snapshot.branches };
      result = await proposeAll(outcomes, ctx, extras);
    } else if (review) {
      result = await reviewPullRequest(outcomes, review, services.github, extras);
    } else {
      const changed = outcomes.filter(isChanged);
      if (!dryRun && changed.length > 0) await pushManifests(repo, changed, logger, settings.platform);
      result = { changed: changed.map((o) => o.env), failed: [], summary: resolveSummary(outcomes, { dryRun }) };
    }
    logger.debug(`repodata: ${fetcher.stats.requests} requests, ${fetcher.stats.bytesFetched} bytes fetched, ${fetcher.stats.notModified} not modified`);
    return { ...result, failed };
  } finally {
    await solver.close?.();
    await repo.close();
    // Shards go to the cache in the background; the run is over when they are there.
    await fetcher.settled();
  }
}

/** `fn` over `items`, at most `limit` at once, started in order; `fn` must not reject. */
function startInOrder<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R>[] {
  const settlers: ((r: R) => void)[] = [];
  const results = items.map(() => new Promise<R>((resolve) => settlers.push(resolve)));
  let next = 0;
  const launch = (): void => {
    if (next >= items.length) return;
    const i = next++;
    void fn(items[i]).then((r) => {
      settlers[i](r);
      launch();
    });
  };
  for (let k = 0; k < Math.max(1, limit); k++) launch();
  return results;
}

interface ReportContext {
  repo: EnvRepository;
  logger: Logger;
  fetch: FetchLike;
  dryRun: boolean;
  /** The resolve platform: what a manifest branch's lock without `# platform:` is for. */
  platform: string;
}

/**
 * The readable diff of a changed environment against its manifest branch; with several platforms,
 * one section per platform that changed (and the env.spec diff once).
 */
async function renderChange(o: SolvedEnv, ctx: ReportContext): Promise<{ text: string; counts: string }> {
  const files = o.files;
  const platforms = o.platforms;
  const one = async (p: PlatformOutcome, withSpec: boolean) => {
    const input = await manifestChangeInput(
      ctx.repo,
      { env: o.env, base: o.base, baseManifest: p.baseManifest, manifest: p.manifest, spec: files[ENV_SPEC_FILE] as Buffer, records: p.records },
      { fetch: ctx.fetch, logger: ctx.logger },
    );
    return { text: renderManifestChange(input, undefined, { spec: withSpec }), counts: changeCounts(classifyChanges(input.before, input.after)), input };
  };
  if (platforms.length === 1) {
    const { text, counts } = await one(platforms[0], true);
    return { text, counts };
  }
  const parts: string[] = [];
  const counts: string[] = [];
  let spec: { before?: string; after: string } | undefined;
  for (const p of platforms.filter((x) => x.changed)) {
    const r = await one(p, false);
    parts.push(`### ${p.platform}\n\n${r.text}`);
    counts.push(`${p.platform}: ${r.counts}`);
    spec = { before: r.input.specBefore, after: r.input.specAfter };
  }
  if (!spec) {
    const [before] = o.base ? await ctx.repo.readFiles([{ rev: o.base, path: ENV_SPEC_FILE }]) : [undefined];
    spec = { before: before?.toString('utf8'), after: (files[ENV_SPEC_FILE] as Buffer).toString('utf8') };
    counts.push('no package changes (env.spec updated)');
  }
  parts.push(`#### env.spec\n\n${specChange(spec.before, spec.after)}`);
  return { text: parts.join('\n'), counts: counts.join('; ') };
}

/**
 * The environment a check-mode pull request proposes: the branch it goes into names the
 * environment, the pull request's head holds the env.spec to resolve (from a fork too:
 * `refs/pull/<n>/head`); none when it goes into a branch that is no environment (no env.spec).
 */
async function reviewedEnv(repo: EnvRepository, envs: EnvBranch[], pr: PullRequestEvent, settings: ResolveSettings, logger: Logger): Promise<EnvBranch[]> {
  const name = pr.baseRef;
  const known = envs.some((e) => e.name === name);
  if (!known || !matchesAny(name, settings.envs)) {
    logger.info(`Pull request #${pr.number} goes into ${name}, which is ${known ? 'not among the environments asked for' : 'no environment branch'}: nothing to check`);
    return [];
  }
  let head = await repo.resolveRef(pr.headSha);
  if (!head) {
    head = await repo.fetchRef(`refs/pull/${pr.number}/head`, 'refs/gitenv/pull-head');
    if (!head) throw new ConfigurationError(`Pull request #${pr.number}: its head ${pr.headSha} is neither a branch of ${repo.displayName} nor refs/pull/${pr.number}/head`);
    if (head !== pr.headSha) logger.info(`Pull request #${pr.number} moved on to ${head} since the event; checking that`);
  }
  if (!(await repo.readFile(head, ENV_SPEC_FILE))) {
    logger.info(`Pull request #${pr.number}: ${head} has no ${ENV_SPEC_FILE}: nothing to check`);
    return [];
  }
  return [{ name, branch: name, commit: head, labels: {} }];
}

/** check mode on a pull request: the summary and the one comment carry the would-be diff. */
async function reviewPullRequest(outcomes: EnvOutcome[], pr: PullRequestEvent, github: GitHubClient | undefined, ctx: ReportContext): Promise<ResolveResult> {
  const parts = [resolveSummary(outcomes, { dryRun: true, check: true })];
  for (const o of outcomes) {
    const verdict: CheckVerdict =
      o.status === 'failed' ? { kind: 'failed', error: o.error } : o.status === 'changed' ? { kind: 'changed', change: (await renderChange(o, ctx)).text } : { kind: 'unchanged' };
    const body = checkCommentBody(o.env, pr.headSha, verdict);
    parts.push(body);
    if (github) await writeCheckComment(github, pr, o.env, body, ctx.logger);
    else ctx.logger.info('No GitHub token or repository: the check result goes to the job summary only');
  }
  return { changed: outcomes.filter((o) => o.status === 'changed').map((o) => o.env), failed: [], summary: parts.join('\n') };
}

/**
 * The comment is the check's report, so dry-run (which check mode implies for git) does not stop
 * it. A token that may not comment (a fork's pull request gets a read-only one) is a warning: the
 * job summary still carries the diff.
 */
async function writeCheckComment(github: GitHubClient, pr: PullRequestEvent, env: string, body: string, logger: Logger): Promise<void> {
  try {
    const { action, comment } = await upsertCheckComment(github, pr.number, env, body);
    logger.info(`Pull request #${pr.number}: check comment ${action} ${comment.url}`);
  } catch (err) {
    if (!(err instanceof HttpError) || (err.status !== 403 && err.status !== 404)) throw err;
    logger.warning(`${errorMessage(err)}; the diff is in the job summary only`);
  }
}

/** pull-request mode: open, refresh or close each environment's pull request. */
async function proposeAll(outcomes: EnvOutcome[], pctx: ProposeContext, ctx: ReportContext): Promise<ResolveResult> {
  const fresh = outcomes.filter(isChanged).filter((o) => !o.base);
  if (fresh.length > 0 && !ctx.dryRun) await pushManifests(ctx.repo, fresh, ctx.logger, ctx.platform);
  const pullRequests: PullRequestOutcome[] = [];
  const rows: Parameters<typeof pullRequestSummary>[0] = [];
  const details: string[] = [];
  for (const o of outcomes) {
    let pr: PullRequestOutcome | undefined;
    let change = 'no change';
    if (o.status === 'changed' && o.base) {
      const rendered = await renderChange(o, ctx);
      const next = commitFor(o, await readOldBranch(ctx.repo, o.base, ctx.platform), ctx.logger);
      pr = await propose({ env: o.env, base: o.base, files: next.files, message: next.message, body: pullRequestBody(o.env, rendered.text) }, pctx);
      change = rendered.counts;
      details.push(`<details><summary>Proposed for ${manifestBranch(o.env)}</summary>\n\n${rendered.text}\n</details>\n`);
    } else if (o.status === 'changed') {
      change = ctx.dryRun ? 'new environment (would push)' : 'new environment (pushed)';
    } else if (o.status === 'unchanged') {
      pr = await withdraw(o.env, pctx);
    }
    if (pr) pullRequests.push(pr);
    rows.push({ env: o.env, packages: o.status === 'failed' ? undefined : o.packages, change, pr, failed: o.status === 'failed' });
  }
  const open = new Set(pullRequests.filter((p) => !['closed', 'declined', 'would close'].includes(p.action)).map((p) => p.env));
  const changed = outcomes.filter((o) => open.has(o.env) || (o.status === 'changed' && !o.base)).map((o) => o.env);
  return { changed, pullRequests, failed: [], summary: [pullRequestSummary(rows, ctx.dryRun), ...details].join('\n') };
}

interface EnvContext {
  repo: EnvRepository;
  solver: SolverEngine;
  settings: ResolveSettings;
  logger: Logger;
  env: NodeJS.ProcessEnv;
}

/** What solving one environment gave: its env.spec and records per platform, or the error. */
type Solved = { specText: Buffer; solved: { platform: string; records: PackageRecord[] }[] } | { error: unknown };

/** Reads, parses and solves one environment's env.spec, each of its platforms; never throws. */
async function solveEnv(branch: EnvBranch, ctx: EnvContext): Promise<Solved> {
  const { settings } = ctx;
  const name = branch.name;
  try {
    const specText = (await ctx.repo.readFile(branch.commit, ENV_SPEC_FILE)) ?? Buffer.alloc(0);
    const spec = parseEnvSpec(specText, { env: name }, checkVersionSpec);
    const channels = expandChannels(spec.channels, {
      channelAlias: settings.channelAlias,
      customChannels: settings.customChannels,
      defaultChannels: settings.defaultChannels,
    });
    const platforms = spec.platforms ?? [settings.platform];
    // The platforms are solved side by side (the solver's threads); their repodata requests are shared,
    // so noarch is fetched and parsed once. The first platform in env.spec order that fails is named.
    const outcomes = await Promise.allSettled(
      platforms.map(async (platform) => {
        ctx.logger.info(`Solving ${name}: ${spec.specs.length} spec(s) over ${channels.length} channel(s) for ${platform}`);
        const started = Date.now();
        const records = await solveFor(platform, spec.platforms !== undefined, { specs: spec.specs, channels, env: name }, ctx);
        ctx.logger.info(`Solved ${name}${platforms.length > 1 ? ` for ${platform}` : ''} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
        checkRecords(records, channels, name);
        return { platform, records };
      }),
    );
    const solved: { platform: string; records: PackageRecord[] }[] = [];
    for (const o of outcomes) {
      if (o.status === 'rejected') throw o.reason;
      solved.push(o.value);
    }
    return { specText, solved };
  } catch (error) {
    return { error };
  }
}

/** Compares one environment's solve with its manifest branch; never throws. */
async function resolveEnv(branch: EnvBranch, manifestHead: string | undefined, ctx: EnvContext, solving: Promise<Solved>): Promise<EnvOutcome> {
  const { logger, settings } = ctx;
  const name = branch.name;
  try {
    const outcome = await solving;
    if ('error' in outcome) throw outcome.error;
    const { specText, solved } = outcome;
    const files = manifestFiles(solved, specText, name);
    const old = manifestHead ? await readOldBranch(ctx.repo, manifestHead, settings.platform) : undefined;
    const several = solved.length > 1;
    const perPlatform: PlatformOutcome[] = solved.map(({ platform, records }) => {
      const names = platformFileNames(platform, several);
      const base = old ? oldManifestFile(old, platform, several) : undefined;
      const manifest = files[names.manifest] as string;
      const diff = manifestDiff(base ? old?.files.get(base)?.toString('utf8') : undefined, manifest, name, logger);
      const oldLock = old && base ? old.files.get(lockBeside(base)) : undefined;
      const changed = !base || old?.files.get(base)?.toString('utf8') !== manifest || !oldLock || withoutGenerator(oldLock.toString('utf8')) !== withoutGenerator(files[names.lock] as string);
      return { platform, records, manifest, diff, baseManifest: base, changed };
    });
    const diff = several ? combinedDiff(perPlatform.map((p) => p.diff)) : perPlatform[0].diff;
    const status = old && sameFiles(old, files) ? 'unchanged' : 'changed';
    const packages = solved[0].records.length;
    if (several) {
      const counts = perPlatform.map((p) => `${p.platform} ${p.records.length}`).join(', ');
      logger.info(`${name}: packages ${counts}; ${status === 'changed' ? describe(diff) : 'no change'}`);
      for (const p of perPlatform) for (const c of p.diff.changes) logger.info(`  ${p.platform}: ${formatChange(c)}`);
    } else {
      logger.info(`${name}: ${packages} packages, ${status === 'changed' ? describe(diff) : 'no change'}`);
      for (const c of diff.changes) logger.info(`  ${formatChange(c)}`);
    }
    return { env: name, status, packages, diff, files, records: solved[0].records, platforms: perPlatform, base: manifestHead };
  } catch (err) {
    return failure(name, err, logger);
  }
}

/**
 * One platform's solve with that platform's virtual packages. When env.spec lists its platforms,
 * a failure names the platform: the environment fails as a whole.
 */
async function solveFor(platform: string, named: boolean, what: { specs: string[]; channels: string[]; env: string }, ctx: EnvContext): Promise<PackageRecord[]> {
  try {
    return await ctx.solver.solve({ ...what, platform, virtualPackages: virtualPackages(platform, ctx.env), logger: ctx.logger });
  } catch (err) {
    if (!named) throw err;
    const reason = errorMessage(err).replace(new RegExp(`^environment "${escapeRegExp(what.env)}": `), '');
    const message = `environment "${what.env}" cannot be resolved for platform ${platform}: ${reason}`;
    // The error keeps its class (a channel's HttpError stays one), now naming the platform.
    if (err instanceof Error) {
      err.message = message;
      throw err;
    }
    throw new Error(message);
  }
}

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The sum of the platforms' diffs (the summary's counts). */
function combinedDiff(diffs: ManifestDiff[]): ManifestDiff {
  return {
    changes: diffs.flatMap((d) => d.changes),
    added: diffs.reduce((n, d) => n + d.added, 0),
    removed: diffs.reduce((n, d) => n + d.removed, 0),
    changed: diffs.reduce((n, d) => n + d.changed, 0),
  };
}

function failure(env: string, err: unknown, logger: Logger): EnvOutcome {
  let message = errorMessage(err);
  if (!message.includes(`"${env}"`)) message = `environment "${env}": ${message}`;
  if (err instanceof ConfigurationError && err.where.file) {
    logger.error(message, { file: err.where.file, startLine: err.where.line, title: `env.spec of ${env}` });
  } else {
    logger.error(message);
  }
  return { env, status: 'failed', error: message };
}

/** The diff against the old manifest; one that cannot be read counts as empty (with a warning). */
function manifestDiff(old: string | undefined, now: string, env: string, logger: Logger): ManifestDiff {
  try {
    return diffManifests(old, now);
  } catch (err) {
    logger.warning(`${manifestBranch(env)}: the old ${MANIFEST_FILE} cannot be read (${errorMessage(err)}); listing every package as added`);
    return diffManifests(undefined, now);
  }
}

function describe(diff: ManifestDiff): string {
  if (diff.changes.length === 0) return 'manifest files updated';
  return `${diff.added} added, ${diff.removed} removed, ${diff.changed} changed`;
}

/** One platform: today's three files, exactly. Several: env.spec and two files per platform. */
function manifestFiles(solved: { platform: string; records: PackageRecord[] }[], spec: Buffer, env: string): ManifestFiles {
  const several = solved.length > 1;
  const files: ManifestFiles = {};
  for (const { platform, records } of solved) {
    const names = platformFileNames(platform, several);
    const lock = formatLock(records, { platform, env });
    // env.manifest from exactly the packages that env.lock lists.
    const entries = parseLock(lock).map((p) => ({ channel: p.channel, subdir: p.subdir, dist: p.dist, ...splitDist(p.dist) }));
    files[names.manifest] = formatManifestEntries(entries);
    files[names.lock] = lock;
  }
  files[ENV_SPEC_FILE] = spec;
  return files;
}

/** What a manifest branch holds of gitenv's files: env.spec, the manifests and the locks. */
interface OldBranch {
  files: Map<string, Buffer>;
  platforms: PlatformFiles[];
}

async function readOldBranch(repo: EnvRepository, commit: string, fallbackPlatform: string): Promise<OldBranch> {
  const names = (await repo.listFiles(commit)).filter((n) => n === ENV_SPEC_FILE || isManifestFile(n));
  const blobs = await repo.readFiles(names.map((p) => ({ rev: commit, path: p })));
  const files = new Map<string, Buffer>();
  names.forEach((n, i) => {
    const blob = blobs[i];
    if (blob) files.set(n, blob);
  });
  return { files, platforms: platformsOfTree([...files.keys()], files.get(LOCK_FILE)?.toString('utf8'), fallbackPlatform) };
}

/**
 * The old manifest a platform compares with: one platform before and after compares env.manifest
 * with env.manifest whatever its platform (as before platforms existed); otherwise the file the old
 * branch holds for that platform.
 */
function oldManifestFile(old: OldBranch, platform: string, several: boolean): string | undefined {
  if (!several && old.files.has(MANIFEST_FILE)) return MANIFEST_FILE;
  const names = old.platforms.find((p) => p.platform === platform)?.names;
  return names && old.files.has(names.manifest) ? names.manifest : undefined;
}

/** The lock that sits beside a manifest file (env.manifest → env.lock, env.P.manifest → env.P.lock). */
const lockBeside = (manifest: string): string => manifest.replace(/manifest$/, 'lock');

/** The generator line names gitenv's version: a new gitenv alone is no reason for a commit. */
const withoutGenerator = (lock: string): string => lock.replace(/^# generated by .*\n/m, '');

const isLock = (name: string): boolean => name.endsWith('.lock');

function sameFile(name: string, old: Buffer | undefined, now: string | Buffer): boolean {
  if (!old) return false;
  if (isLock(name)) return withoutGenerator(old.toString('utf8')) === withoutGenerator(now.toString());
  return old.equals(typeof now === 'string' ? Buffer.from(now) : now);
}

function sameFiles(old: OldBranch, now: ManifestFiles): boolean {
  const names = Object.keys(now);
  return names.length === old.files.size && names.every((n) => sameFile(n, old.files.get(n), now[n]));
}

/** What changed besides packages, for a commit whose manifest diff is empty. */
function note(old: OldBranch | undefined, now: ManifestFiles): string | undefined {
  const parts = Object.keys(now)
    .filter((n) => isLock(n) && !sameFile(n, old?.files.get(n), now[n]))
    .sort();
  if (!sameFile(ENV_SPEC_FILE, old?.files.get(ENV_SPEC_FILE), now[ENV_SPEC_FILE])) parts.push(ENV_SPEC_FILE);
  return parts.length > 0 ? `Updated ${parts.join(' and ')}` : undefined;
}

/**
 * The commit of an environment's new files on top of its manifest branch: the files of the other
 * layout removed (one platform ↔ several), the message grouped by platform when there are several.
 */
function commitFor(o: SolvedEnv, old: OldBranch | undefined, logger: Logger): { files: FileChanges; message: string } {
  const now = o.files;
  const platforms = o.platforms;
  const several = platforms.length > 1;
  const diffs = platforms.map((p) => {
    const base = old ? oldManifestFile(old, p.platform, several) : undefined;
    return { platform: p.platform, diff: manifestDiff(base ? old?.files.get(base)?.toString('utf8') : undefined, p.manifest, o.env, logger) };
  });
  const extra = diffs.every((d) => d.diff.changes.length === 0) ? note(old, now) : undefined;
  const message = several ? platformCommitMessage(o.env, diffs, extra) : commitMessage(o.env, diffs[0].diff, extra);
  const files: FileChanges = { ...now };
  for (const name of old?.files.keys() ?? []) if (!(name in now)) files[name] = null;
  return { files, message };
}

/**
 * Commits each changed environment on its manifest branch and pushes them all in one push. When
 * the remote moved meanwhile, the repository model fetches again and this plans again: the
 * commits are remade on the new heads (the solve stands; only the diff is against a new parent).
 */
async function pushManifests(repo: EnvRepository, outcomes: SolvedEnv[], logger: Logger, fallbackPlatform: string): Promise<void> {
  // After a race everything is fetched again: a branch new here may have been created there.
  await repo.retryWhenStale(async () => {
    const updates: RefUpdate[] = [];
    for (const o of outcomes) {
      const files = o.files;
      const branch = manifestBranch(o.env);
      const head = await repo.resolveRef(`refs/heads/${branch}`);
      const old = head ? await readOldBranch(repo, head, fallbackPlatform) : undefined;
      if (old && sameFiles(old, files)) continue; // someone pushed the same result first
      const next = commitFor(o, old, logger);
      const { commit, changed } = await repo.writeCommit(head, next.files, next.message);
      if (!changed) continue;
      logger.info(`Pushing changes to ${branch}`);
      updates.push({ src: commit, dst: `refs/heads/${branch}` });
    }
    await repo.push(updates);
  });
}
