/**
 * resolve's pull-request mode: each environment whose manifest would change gets its next manifest
 * commit on `gitenv/update/<env>` (force-pushed, parent: the current `manifest/<env>`) and one open
 * pull request into `manifest/<env>`, opened or refreshed; when the manifest is back to the current
 * state, the pull request is closed and the branch deleted. Merging is the review; autotag tags it.
 * A pull request a person closed without merging is not opened again for the same proposal.
 */
import { code, raw, section, table } from '../summary/markdown.js';
import type { EnvRepository } from '../repo/env-repository.js';
import { manifestBranch, updateBranch } from '../repo/names.js';
import type { Logger } from '../util/logger.js';
import type { GitHubClient, PullRequest } from './client.js';

/** What happened to an environment's pull request. */
export type PullRequestAction = 'opened' | 'updated' | 'unchanged' | 'closed' | 'declined' | 'would open' | 'would update' | 'would close';

export interface PullRequestOutcome {
  env: string;
  action: PullRequestAction;
  number?: number;
  url?: string;
}

/** An environment whose manifest would change, with the commit that would change it. */
export interface Proposal {
  env: string;
  /** The current `manifest/<env>` head: the pull request's base and the commit's parent. */
  base: string;
  /** The files to write; null removes one (the other layout's, when the platforms change). */
  files: Record<string, string | Buffer | null>;
  message: string;
  /** The pull request's body (see pullRequestBody). */
  body: string;
}

export interface ProposeContext {
  repo: EnvRepository;
  github: GitHubClient;
  logger: Logger;
  dryRun: boolean;
  /** Every branch of the snapshot → its head. */
  branches: ReadonlyMap<string, string>;
}

/** The hidden line that marks gitenv's pull request body for an environment. */
export const updateMarker = (env: string): string => `<!-- gitenv-update:${env} -->`;

export const pullRequestTitle = (env: string): string => `Manifest update for ${env}`;

export function pullRequestBody(env: string, change: string): string {
  return (
    `${updateMarker(env)}\n` +
    `gitenv resolved the env.spec of ${code(env)}. Merging this pull request updates ${code(manifestBranch(env))}; ` +
    `autotag then tags it. gitenv force-pushes ${code(updateBranch(env))} and rewrites this description on each run, ` +
    `and closes the pull request when the manifest is back to its current state.\n\n${change}`
  );
}

/** Pushes the proposal's branch when it differs and opens or refreshes its pull request. */
export async function propose(p: Proposal, ctx: ProposeContext): Promise<PullRequestOutcome> {
  const branch = updateBranch(p.env);
  const base = manifestBranch(p.env);
  const { commit } = await ctx.repo.writeCommit(p.base, p.files, p.message);
  const current = ctx.branches.get(branch);
  const same = current !== undefined && (await sameProposal(ctx.repo, current, commit));
  if (ctx.dryRun) {
    ctx.logger.info(`${p.env}: would push ${branch} and open or update its pull request into ${base}`);
    return { env: p.env, action: current ? 'would update' : 'would open' };
  }
  if (!same) {
    ctx.logger.info(`Pushing ${branch} (proposed ${base})`);
    await ctx.repo.push([{ src: commit, dst: `refs/heads/${branch}`, force: true }]);
  }
  const title = pullRequestTitle(p.env);
  const open = await ctx.github.findOpenPullRequest(branch, base);
  if (!open && same) {
    // A person closed the pull request of exactly this proposal: do not open it again every run.
    const declined = (await ctx.github.listClosedPullRequests(branch, base)).find((pr) => pr.headSha === current);
    if (declined) {
      ctx.logger.info(`${p.env}: pull request #${declined.number} proposing this manifest was closed without merging; not opened again until the proposal changes`);
      return outcome(p.env, 'declined', declined);
    }
  }
  if (!open) {
    const made = await ctx.github.createPullRequest({ head: branch, base, title, body: p.body });
    ctx.logger.info(`${p.env}: opened pull request #${made.number} ${made.url}`);
    return outcome(p.env, 'opened', made);
  }
  if (open.title === title && open.body === p.body) {
    return outcome(p.env, same ? 'unchanged' : 'updated', open);
  }
  const updated = await ctx.github.updatePullRequest(open.number, { title, body: p.body });
  ctx.logger.info(`${p.env}: updated pull request #${updated.number} ${updated.url}`);
  return outcome(p.env, 'updated', updated);
}

/**
 * The manifest is back to (or still at) `manifest/<env>`: a leftover update branch and its open
 * pull request have nothing left to propose. Nothing is done when there is no such branch.
 */
export async function withdraw(env: string, ctx: ProposeContext): Promise<PullRequestOutcome | undefined> {
  const branch = updateBranch(env);
  if (!ctx.branches.has(branch)) return undefined;
  if (ctx.dryRun) return { env, action: 'would close' };
  const open = await ctx.github.findOpenPullRequest(branch, manifestBranch(env));
  if (open) {
    await ctx.github.createComment(open.number, `${code(manifestBranch(env))} already holds what ${code(env)}'s env.spec resolves to: nothing left to merge.`);
    await ctx.github.updatePullRequest(open.number, { state: 'closed' });
    ctx.logger.info(`${env}: closed pull request #${open.number} (manifest back to the current state)`);
  }
  await ctx.repo.deleteBranches([branch]);
  return open ? outcome(env, 'closed', open) : undefined;
}

/** Same parent and same tree: pushing again would change nothing but the commit's date. */
async function sameProposal(repo: EnvRepository, current: string, commit: string): Promise<boolean> {
  const [a, b] = await Promise.all([current, commit].map((c) => repo.git.text(['rev-parse', `${c}^{tree}`, `${c}^@`])));
  return a === b;
}

const outcome = (env: string, action: PullRequestAction, pr: PullRequest): PullRequestOutcome => ({ env, action, number: pr.number, url: pr.url });

/** The job summary of pull-request mode: one row per environment with its pull request. */
export function pullRequestSummary(rows: { env: string; packages?: number; change: string; pr?: PullRequestOutcome; failed?: boolean }[], dryRun: boolean): string {
  const title = `gitenv resolve: pull requests${dryRun ? ' (dry run)' : ''}`;
  if (rows.length === 0) return section(title, 'No environments to resolve.');
  const link = (pr?: PullRequestOutcome): string => (pr?.url && pr.number ? `[#${pr.number}](${pr.url}) ${pr.action}` : (pr?.action ?? ''));
  return section(
    title,
    table(
      ['Environment', 'Packages', 'Change', 'Pull request'],
      rows.map((r) => [raw(code(r.env)), r.packages, r.failed ? 'failed' : r.change, raw(link(r.pr))]),
    ),
  );
}
