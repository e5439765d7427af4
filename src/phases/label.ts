import { EnvRepository, type RepositorySnapshot, openForPhase } from '../repo/env-repository.js';
import { labelPath, manifestBranch, newLabelNameProblem } from '../repo/names.js';
import { parseTag } from '../repo/tags.js';
import { code, raw, section, table } from '../summary/markdown.js';
import { ConfigurationError } from '../util/errors.js';
import type { PhaseResult } from './result.js';
import type { LabelSettings, Services } from './settings.js';

export interface LabelResult extends PhaseResult {
  /** Labels written: {label: tag}. */
  labels: Record<string, string>;
}

/** The labels that move when a tag becomes `next`: each takes the value of the one after it. */
const PROGRESSION = ['previous', 'current', 'next'] as const;

/** Label values before and after: undefined is "no such label file". */
export type LabelChange = Record<string, { before?: string; after?: string }>;

/**
 * The labels after labelling `tag`, from the labels before (pure):
 * - `label` given: just that label;
 * - `nextOnly`: just `next`;
 * - otherwise previous ← current ← next ← tag (a missing label moves as "missing", like the old
 *   tool's file moves). When `next` already is the tag there is nothing to do, so a re-run does
 *   not shift the labels a second time.
 */
export function planLabels(before: Record<string, string | undefined>, tag: string, options: { nextOnly: boolean; label?: string }): LabelChange {
  const change: LabelChange = {};
  const set = (name: string, after: string | undefined) => {
    if (before[name] !== after) change[name] = { before: before[name], after };
  };
  if (options.label) {
    set(options.label, tag);
  } else if (options.nextOnly || before.next === tag) {
    set('next', tag);
  } else {
    set('previous', before.current);
    set('current', before.next);
    set('next', tag);
  }
  return change;
}

export async function label(settings: LabelSettings, services: Services): Promise<LabelResult> {
  const { logger } = services;
  const { tag } = settings;
  const target = settings.label ?? 'next';
  const labelProblem = settings.label !== undefined ? newLabelNameProblem(settings.label) : undefined;
  if (labelProblem) throw new ConfigurationError(`label "${settings.label}" cannot be set: ${labelProblem}`);
  const parsed = parseTag(tag);
  if (!parsed) throw new ConfigurationError(`"${tag}" is not a gitenv tag: expected env-<env>-<YYYY_MM_DD>[-N]`);
  const env = parsed.env;

  const repo = await openForPhase(settings, services);
  try {
    await checkTag(repo, await repo.snapshot(), tag, env);
    const names = settings.label ? [settings.label] : settings.nextOnly ? ['next'] : [...PROGRESSION];
    let change: LabelChange = {};
    const update = await repo.updateBranch(
      env,
      async (head) => {
        // Read the labels on the head we commit on: after a race that is the new head.
        const files = await repo.readFiles(names.map((n) => ({ rev: head as string, path: labelPath(n) })));
        const before = Object.fromEntries(names.map((n, i) => [n, files[i]?.toString('utf8').trim() || undefined]));
        change = planLabels(before, tag, settings);
        if (Object.keys(change).length === 0) return undefined;
        const written = Object.fromEntries(Object.entries(change).map(([n, c]) => [labelPath(n), c.after === undefined ? null : `${c.after}\n`]));
        return { files: written, message: `Updated ${target} label to ${tag}.` };
      },
      { dryRun: settings.dryRun },
    );
    report(logger, env, change, update.pushed, settings.dryRun);
    const labels = Object.fromEntries(Object.entries(change).flatMap(([n, c]) => (c.after ? [[n, c.after]] : [])));
    return { labels, failed: [], summary: summarize(env, tag, change, settings.dryRun) };
  } finally {
    await repo.close();
  }
}

/** The tag must exist, name an environment branch, and point into that environment's manifests. */
async function checkTag(repo: EnvRepository, snap: RepositorySnapshot, tag: string, env: string): Promise<void> {
  const ref = snap.tags.find((t) => t.name === tag);
  if (!ref) throw new ConfigurationError(`Tag ${tag} does not exist in ${repo.displayName}`);
  if (!snap.envs.some((e) => e.name === env)) {
    throw new ConfigurationError(`Tag ${tag} names environment "${env}", but ${repo.displayName} has no environment branch ${env}`);
  }
  const manifest = snap.branches.get(manifestBranch(env));
  if (!manifest || !(await repo.isAncestor(ref.commit, manifest))) {
    throw new ConfigurationError(`Tag ${tag} does not belong to environment "${env}": its commit is not on branch ${manifestBranch(env)}`);
  }
}

function report(logger: Services['logger'], env: string, change: LabelChange, pushed: boolean, dryRun: boolean): void {
  if (Object.keys(change).length === 0) {
    logger.info(`The labels of ${env} already say so; nothing to push`);
    return;
  }
  for (const [name, c] of Object.entries(change)) {
    logger.info(`${env}/${name}: ${c.before ?? '(none)'} -> ${c.after ?? '(removed)'}`);
  }
  if (dryRun) logger.info(`Would push changes to ${env} (dry run)`);
  else if (pushed) logger.info(`Pushed changes to ${env}`);
}

function summarize(env: string, tag: string, change: LabelChange, dryRun: boolean): string {
  const title = `gitenv label${dryRun ? ' (dry run)' : ''}`;
  const entries = Object.entries(change);
  if (entries.length === 0) return section(title, `The labels of ${env} already point at ${code(tag)}; nothing changed.`);
  const show = (v?: string) => (v ? raw(code(v)) : '');
  const rows = entries.map(([name, c]) => [env, name, show(c.before), show(c.after)]);
  return section(title, table(['Environment', 'Label', 'Before', 'After'], rows));
}
