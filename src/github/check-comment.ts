/**
 * resolve's check mode on a pull request: the would-be manifest diff as ONE comment on it, found
 * again by a hidden marker and edited on later pushes, never posted twice.
 */
import { fenced } from '../manifest/pr-body.js';
import { code } from '../summary/markdown.js';
import { manifestBranch } from '../repo/names.js';
import type { GitHubClient, IssueComment } from './client.js';

export const checkMarker = (env: string): string => `<!-- gitenv-check:${env} -->`;

export type CheckVerdict = { kind: 'changed'; change: string } | { kind: 'unchanged' } | { kind: 'failed'; error: string };

export function checkCommentBody(env: string, headSha: string, verdict: CheckVerdict): string {
  const head = `${checkMarker(env)}\n### gitenv check: ${code(manifestBranch(env))}\n\nFor ${code(headSha.slice(0, 12))} of this pull request.\n\n`;
  switch (verdict.kind) {
    case 'changed':
      return `${head}Merging would change the manifest:\n\n${verdict.change}`;
    case 'unchanged':
      return `${head}Merging would not change the manifest: env.spec resolves to what ${code(manifestBranch(env))} holds.\n`;
    case 'failed':
      return `${head}**The proposed env.spec does not resolve:**\n\n${fenced(verdict.error)}`;
  }
}

/** Creates the comment, or edits the one carrying the marker (only when its text differs). */
export async function upsertCheckComment(github: GitHubClient, pullRequest: number, env: string, body: string): Promise<{ action: 'created' | 'updated' | 'unchanged'; comment: IssueComment }> {
  const marker = checkMarker(env);
  const mine = (await github.listComments(pullRequest)).find((c) => c.body.includes(marker));
  if (!mine) return { action: 'created', comment: await github.createComment(pullRequest, body) };
  if (mine.body === body) return { action: 'unchanged', comment: mine };
  return { action: 'updated', comment: await github.updateComment(mine.id, body) };
}
