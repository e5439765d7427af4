/**
 * The pull request a `pull_request` workflow runs for, read from the event payload
 * (GITHUB_EVENT_PATH): its number, the branch it goes into and the commit it proposes.
 */
import { promises as fs } from 'node:fs';
import { ConfigurationError } from '../util/errors.js';

export interface PullRequestEvent {
  number: number;
  /** The branch the pull request goes into: for check mode, the environment's name. */
  baseRef: string;
  /** The proposed commit (the head of the pull request's branch, maybe in a fork). */
  headSha: string;
}

/** The pull request of an event payload, or undefined when the event is about something else. */
export function pullRequestOf(payload: unknown): PullRequestEvent | undefined {
  const pr = (payload as { pull_request?: { number?: unknown; base?: { ref?: unknown }; head?: { sha?: unknown } } } | undefined)?.pull_request;
  if (!pr || typeof pr.number !== 'number') return undefined;
  const baseRef = pr.base?.ref;
  const headSha = pr.head?.sha;
  if (typeof baseRef !== 'string' || typeof headSha !== 'string') return undefined;
  return { number: pr.number, baseRef, headSha };
}

/** Reads the event payload file; undefined when there is none or it is no pull request event. */
export async function readPullRequestEvent(eventPath: string | undefined): Promise<PullRequestEvent | undefined> {
  if (!eventPath) return undefined;
  let text: string;
  try {
    text = await fs.readFile(eventPath, 'utf8');
  } catch {
    return undefined;
  }
  try {
    return pullRequestOf(JSON.parse(text));
  } catch (err) {
    throw new ConfigurationError(`The event payload ${eventPath} is not JSON: ${(err as Error).message}`);
  }
}
