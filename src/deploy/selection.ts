/**
 * What deploy deploys: for each environment branch that has a manifest branch, the tags its labels
 * name plus `latest`, kept when `<env>/<label>` matches the env-labels globs. Several labels naming
 * one tag give one prefix.
 */
import { LATEST_LABEL } from '../repo/names.js';
import { compareTagNames, latestOf, parseTag } from '../repo/tags.js';
import { matchesAny } from '../util/glob.js';
import { isLabelName, type WantedLink } from './symlinks.js';

/** What the repository says about one environment (read by the phase from git). */
export interface EnvState {
  env: string;
  /** label -> tag name, from `labels/<label>.txt` on the environment branch (`latest` never stored). */
  labels: ReadonlyMap<string, string>;
  /** The environment's tags with their commits (the manifest commits they point to). */
  tags: ReadonlyMap<string, { commit: string; date?: Date }>;
  /** The `latest` tag, when the repository computed it; else derived from `tags`' dates. */
  latest?: string;
}

/** One prefix to have on disk. */
export interface SelectedPrefix {
  env: string;
  tag: string;
  deployedName: string;
  commit: string;
  /** Selected labels that point to it, sorted. */
  labels: string[];
}

export interface EnvSelection {
  env: string;
  prefixes: SelectedPrefix[];
  /** label -> where its symlink must point, for the selected labels. */
  links: Map<string, WantedLink>;
  /** Every label the repository has for this environment (`latest` included), selected or not. */
  repoLabels: Set<string>;
  /** Labels skipped, each with the reason (missing or foreign tag); their symlinks are left alone. */
  problems: { label: string; message: string }[];
}

/** The newest tag (the rule is `latestOf`'s). */
export function latestTag(tags: EnvState['tags']): string | undefined {
  return latestOf(
    tags,
    ([name]) => name,
    ([, t]) => t.date,
  )?.[0];
}

/** Picks the prefixes and links of one environment. */
export function selectEnv(state: EnvState, envLabels: readonly string[]): EnvSelection {
  const all = new Map(state.labels);
  const latest = state.latest ?? latestTag(state.tags);
  if (latest !== undefined) all.set(LATEST_LABEL, latest);
  const selection: EnvSelection = { env: state.env, prefixes: [], links: new Map(), repoLabels: new Set(all.keys()), problems: [] };
  const byTag = new Map<string, SelectedPrefix>();
  for (const [label, tag] of [...all].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (!matchesAny(`${state.env}/${label}`, envLabels)) continue;
    if (!isLabelName(label)) {
      selection.problems.push({ label, message: `labels/${label}.txt: "${label}" cannot name a symlink beside the prefixes (hidden, or shaped like a deployed name)` });
      continue;
    }
    const parsed = parseTag(tag);
    const target = state.tags.get(tag);
    if (!parsed || parsed.env !== state.env) {
      selection.problems.push({ label, message: `labels/${label}.txt names "${tag}", which is not a tag of ${state.env}` });
      continue;
    }
    if (!target) {
      selection.problems.push({ label, message: `labels/${label}.txt names ${tag}, which does not exist` });
      continue;
    }
    let prefix = byTag.get(tag);
    if (!prefix) {
      prefix = { env: state.env, tag, deployedName: parsed.deployedName, commit: target.commit, labels: [] };
      byTag.set(tag, prefix);
    }
    prefix.labels.push(label);
    selection.links.set(label, { deployedName: parsed.deployedName, tag });
  }
  selection.prefixes = [...byTag.values()].sort((a, b) => compareTagNames(a.tag, b.tag));
  return selection;
}

/**
 * May deploy remove the symlink of `label`? Only when the repository no longer has that label and
 * env-labels selects it (a runner deploying `*\/current` leaves the other labels alone).
 */
export function mayRemoveLabel(selection: EnvSelection, label: string, envLabels: readonly string[]): boolean {
  return !selection.repoLabels.has(label) && matchesAny(`${selection.env}/${label}`, envLabels);
}
