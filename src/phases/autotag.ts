import { tagsOf, type RepositorySnapshot, openForPhase } from '../repo/env-repository.js';
import { nextTagName } from '../repo/tags.js';
import { code, raw, section, table } from '../summary/markdown.js';
import { matchesAny } from '../util/glob.js';
import type { PhaseResult } from './result.js';
import type { AutotagSettings, Services } from './settings.js';

export interface AutotagResult extends PhaseResult {
  /** Tags created (or, in dry-run, that would be). */
  tags: string[];
}

/** What autotag does with one manifest head. */
export interface TagPlanEntry {
  env: string;
  /** The manifest head. */
  commit: string;
  committerDate: Date;
  /** The new tag's name; undefined when the head is already tagged. */
  tag?: string;
  /** The tags of this environment already on the head. */
  existing: string[];
}

/**
 * The tag rule: every manifest head that carries no `env-<env>-*` tag gets
 * `env-<env>-<YYYY_MM_DD of its committer date, UTC>`, or the first free `-N` after it.
 */
export function planTags(snapshot: RepositorySnapshot, envGlobs: string[]): TagPlanEntry[] {
  const taken = new Set(snapshot.tagNames);
  return snapshot.manifests
    .filter((m) => matchesAny(m.env, envGlobs))
    .map((m) => {
      const existing = tagsOf(snapshot, m.env)
        .filter((t) => t.commit === m.commit)
        .map((t) => t.name);
      const entry: TagPlanEntry = { env: m.env, commit: m.commit, committerDate: m.committerDate, existing };
      if (existing.length === 0) {
        entry.tag = nextTagName(m.env, m.committerDate, (name) => taken.has(name));
        taken.add(entry.tag);
      }
      return entry;
    });
}

export async function autotag(settings: AutotagSettings, services: Services): Promise<AutotagResult> {
  const { logger } = services;
  const repo = await openForPhase(settings, services);
  try {
    // Plan and push together, so that a race (someone tagged first) is re-planned from a new fetch.
    const plan = await repo.retryWhenStale(async () => {
      const entries = planTags(await repo.snapshot(), settings.envs);
      const updates = [];
      for (const e of entries) {
        if (!e.tag) {
          logger.debug(`manifest/${e.env} is already tagged ${e.existing.join(', ')}`);
          continue;
        }
        if (settings.dryRun) {
          logger.info(`Would push tag ${e.tag} (dry run)`);
          continue;
        }
        logger.info(`Pushing tag ${e.tag}`);
        updates.push({ src: await repo.makeTag(e.tag, e.commit, `Automatic tag of ${e.env}.`), dst: `refs/tags/${e.tag}` });
      }
      await repo.push(updates);
      return entries;
    });
    if (plan.length === 0) logger.info(`No manifest branches${settings.envs.length ? ` matching ${settings.envs.join(' ')}` : ''} in ${repo.displayName}`);
    const tags = plan.flatMap((e) => (e.tag ? [e.tag] : []));
    return { tags, failed: [], summary: summarize(plan, settings.dryRun) };
  } finally {
    await repo.close();
  }
}

function summarize(plan: TagPlanEntry[], dryRun: boolean): string {
  const title = `gitenv autotag${dryRun ? ' (dry run)' : ''}`;
  if (plan.length === 0) return section(title, 'No manifest branches to tag.');
  const rows = plan.map((e) => [
    e.env,
    raw(code(e.commit.slice(0, 12))),
    e.tag ? raw(code(e.tag)) : raw(e.existing.map(code).join(', ')),
    e.tag ? (dryRun ? 'would tag' : 'tagged') : 'already tagged',
  ]);
  return section(title, table(['Environment', 'Manifest head', 'Tag', 'Status'], rows));
}
