import type { ModulefilesFormat } from '../deploy/modulefiles.js';
import type { Logger } from '../util/logger.js';

export type { ModulefilesFormat };

/** The engines that resolve and deploy can use. */
export type Engine = 'builtin' | 'micromamba';

/** What resolve does with a changed manifest. */
export type ResolveMode = 'push' | 'pull-request' | 'check';

/** Inputs shared by every phase. */
export interface CommonSettings {
  /** Git URL (https://, file://) or local path of the environments repository. */
  repository: string;
  /** Token for https remotes; sent as an HTTP auth header, never in a URL. */
  token?: string;
  /** Environment globs; empty means all. */
  envs: string[];
  /** Plan and report, change nothing. */
  dryRun: boolean;
  /** Scratch space (default: RUNNER_TEMP or the OS temp directory). */
  workDir?: string;
}

export interface ChannelCredentials {
  apiUser?: string;
  apiKey?: string;
}

export interface ResolveSettings extends CommonSettings, ChannelCredentials {
  platform: string;
  channelAlias: string;
  engine: Engine;
  mode: ResolveMode;
  /** Directory for the on-disk repodata cache (default under workDir). */
  cacheDir?: string;
}

export type AutotagSettings = CommonSettings;

export interface LabelSettings extends CommonSettings {
  tag: string;
  nextOnly: boolean;
  /** Set just this label to `tag` (no progression). */
  label?: string;
}

export interface DeploySettings extends CommonSettings, ChannelCredentials {
  target: string;
  envLabels: string[];
  mirror?: string;
  /** Expands channel names of env.spec (whose hosts get the credentials); default DEFAULT_CHANNEL_ALIAS. */
  channelAlias?: string;
  engine: Engine;
  prune: boolean;
  keep: number;
  /** Package cache (default `<target>/.pkg_cache`). */
  pkgCache?: string;
  /** Parallel downloads. */
  concurrency?: number;
  /** Do not run env.spec's `tests:` (logged; the marker says the tests were skipped). */
  skipTests?: boolean;
  /** Seconds each smoke test may run (default DEFAULT_TEST_TIMEOUT of deploy/smoke-tests.ts). */
  testTimeout?: number;
  /** Directory to write modulefiles into (`<dir>/<env>/<label or deployed name>`); none when unset. */
  modulefiles?: string;
  modulefilesFormat?: ModulefilesFormat;
  /** Site text for every modulefile (help line, whatis, extra lines): see src/deploy/modulefiles.ts. */
  modulefilesTemplate?: string;
  /** Group that owns the deployed tree (group readable); unset: readable by everyone. */
  group?: string;
  /** With `group`: false leaves the tree unreadable by others (default true). */
  worldReadable?: boolean;
  /**
   * The platform (conda subdir) whose locks to install; default this machine's. Another platform
   * than the machine's is deployed for machines sharing the file system: nothing of it is run here.
   */
  platform?: string;
}


/** Services the core gets injected instead of reaching for globals. */
export interface Services {
  logger: Logger;
  /** Environment variables (CONDA_OVERRIDE_*, GITENV_*); default process.env. */
  env?: NodeJS.ProcessEnv;
  /** The clock (tests pin it). */
  now?: () => Date;
}

export const DEFAULT_CHANNEL_ALIAS = 'https://conda.anaconda.org';
export const DEFAULT_PLATFORM = 'linux-64';
