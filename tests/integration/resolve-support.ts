/** Shared by the resolve tests: settings for a fixture repository, and env.spec text. */
import path from 'node:path';
import { DEFAULT_CHANNEL_ALIAS, type ResolveSettings } from '../../src/phases/settings.js';
import type { GitFixture } from '../fixtures/git-repo.js';

/** Push-mode settings with the builtin engine, scratch and repodata cache inside the fixture. */
export function resolveSettings(fx: GitFixture, extra: Partial<ResolveSettings> = {}): ResolveSettings {
  return {
    repository: fx.origin,
    envs: [],
    dryRun: false,
    platform: 'linux-64',
    channelAlias: DEFAULT_CHANNEL_ALIAS,
    engine: 'builtin',
    mode: 'push',
    workDir: fx.root,
    cacheDir: path.join(fx.root, 'repodata cache'),
    ...extra,
  };
}

/** An env.spec listing `channels` and `packages`. */
export const specText = (channels: string[], packages: string[]): string => `channels:\n${channels.map((c) => `  - ${c}\n`).join('')}env:\n${packages.map((p) => `  - ${p}\n`).join('')}`;
