/**
 * Every phase's settings: the typed objects the phases take, the table of options that both
 * front ends read (action inputs and CLI flags), and one parser per phase that turns the strings a
 * front end collected into those objects and refuses what is wrong. Neither front end judges a
 * value: the action reads inputs, the CLI reads flags and its GITENV_* variables, both hand the
 * strings here.
 *
 * Adding an option: one entry in OPTIONS (the CLI learns its flag and help from it), one line in
 * the phase's parser, and the input in the action.yml files.
 */
import { existsSync } from 'node:fs';
import { readCondarc, type Condarc } from '../conda/condarc.js';
import { DEFAULT_PLATFORM } from '../conda/platforms.js';
import type { ChannelCredentials, Engine } from '../engines/types.js';
import { labelNameProblem } from '../repo/names.js';
import { parseTag } from '../repo/tags.js';
import { DEFAULT_MICROMAMBA_URL, DEFAULT_MICROMAMBA_VERSION, type SetupSettings } from '../setup/micromamba-setup.js';
import { DEFAULT_CHANNEL_ALIAS } from '../solver/channels.js';
import { ConfigurationError } from '../util/errors.js';
import { splitList } from '../util/glob.js';
import type { Logger } from '../util/logger.js';
import type { ModulefilesFormat } from '../deploy/modulefiles.js';

export type { ModulefilesFormat };

export type { ChannelCredentials, Engine } from '../engines/types.js';
export { DEFAULT_CHANNEL_ALIAS } from '../solver/channels.js';

export const ENGINES = ['builtin', 'micromamba'] as const;
export const RESOLVE_MODES = ['push', 'pull-request', 'check'] as const;
export const LOG_LEVELS = ['info', 'debug'] as const;

/** What resolve does with a changed manifest. */
export type ResolveMode = (typeof RESOLVE_MODES)[number];
export type LogLevel = (typeof LOG_LEVELS)[number];

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

/** What a site's condarc and network say (proxies and CA certificates are set up by the front end). */
export interface SiteSettings {
  /** The condarc read (`condarc` input, `--condarc`). */
  condarc?: Condarc;
}

export interface ResolveSettings extends CommonSettings, ChannelCredentials, SiteSettings {
  platform: string;
  channelAlias: string;
  /** The action keeps the repodata cache in the runner's cache service (input `cache`). */
  actionsCache?: boolean;
  /** condarc custom_channels and default_channels. */
  customChannels?: Record<string, string>;
  defaultChannels?: string[];
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

export interface DeploySettings extends CommonSettings, ChannelCredentials, SiteSettings {
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

export { DEFAULT_PLATFORM };
export const DEFAULT_KEEP = 2;

// ---------------------------------------------------------------------------------------------
// The option table

export type Phase = 'resolve' | 'autotag' | 'label' | 'deploy' | 'setup';
export const PHASES: readonly Phase[] = ['resolve', 'autotag', 'label', 'deploy', 'setup'];

export interface OptionSpec {
  /** The action input's name, and the CLI's long flag (`--<name>`; `_` is accepted for `-`). */
  name: string;
  /** bool: a switch; list: several values (CLI: `--x A B`, or repeated); the rest: one value. */
  kind: 'string' | 'list' | 'bool' | 'int';
  /** Which phases read it. */
  phases: readonly Phase[];
  /** One line for `--help`. */
  help: string;
  /** The CLI's name for its value (`GLOB`, `URL`). */
  metavar?: string;
  /** The CLI's one-letter flag (conda-gitenv's `-k`, `-u`, `-e`, `-m`). */
  short?: string;
  /** A CLI positional argument instead of a flag (repo, target, tag), in this order. */
  positional?: boolean;
  /** The CLI's spelling of a positional in its usage line (conda-gitenv called the tag `next_tag`). */
  cliName?: string;
  /** Only one front end has it. */
  only?: 'cli' | 'action';
  /** The CLI reads this environment variable when the flag is not given. */
  env?: string;
}

const ALL: readonly Phase[] = ['resolve', 'autotag', 'label', 'deploy'];

export const OPTIONS: readonly OptionSpec[] = [
  { name: 'repository', kind: 'string', phases: ALL, positional: true, cliName: 'repo', help: 'the environments repository: a git URL, a local path, or owner/name on the GitHub server' },
  { name: 'target', kind: 'string', phases: ['deploy'], positional: true, help: 'directory that holds the deployed environments' },
  { name: 'tag', kind: 'string', phases: ['label'], positional: true, help: 'the tag to label, e.g. env-default-2024_05_01' },
  { name: 'token', kind: 'string', phases: ALL, metavar: 'TOKEN', env: 'GITENV_TOKEN', help: 'token for https remotes (or GITENV_TOKEN); sent as a header, never logged' },
  { name: 'envs', kind: 'list', phases: ALL, short: 'e', metavar: 'GLOB', help: 'environments to act on (default: all)' },
  { name: 'dry-run', kind: 'bool', phases: ALL, help: 'plan and report, change nothing' },
  {
    name: 'platform',
    kind: 'string',
    phases: ['resolve', 'deploy'],
    metavar: 'SUBDIR',
    help: `resolve: conda platform to resolve for when env.spec has no platforms: (default ${DEFAULT_PLATFORM}; noarch is always added); deploy: the platform whose locks to install (default: this machine's)`,
  },
  { name: 'channel-alias', kind: 'string', phases: ['resolve', 'deploy'], metavar: 'URL', help: `base URL that channel names expand with (default ${DEFAULT_CHANNEL_ALIAS})` },
  {
    name: 'api-user',
    kind: 'string',
    phases: ['resolve', 'deploy'],
    short: 'u',
    metavar: 'USER',
    env: 'GITENV_API_USER',
    help: 'user name for channels that need HTTP basic auth (or GITENV_API_USER)',
  },
  {
    name: 'api-key',
    kind: 'string',
    phases: ['resolve', 'deploy'],
    short: 'k',
    metavar: 'KEY',
    env: 'GITENV_API_KEY',
    help: 'password or key for channels that need HTTP basic auth (or GITENV_API_KEY)',
  },
  { name: 'engine', kind: 'string', phases: ['resolve', 'deploy'], metavar: 'builtin|micromamba', help: 'builtin (needs nothing installed) or micromamba' },
  { name: 'mode', kind: 'string', phases: ['resolve'], metavar: 'MODE', help: 'push (default) or check (a dry run that prints the would-be diff); the action also has pull-request' },
  { name: 'condarc', kind: 'string', phases: ['resolve', 'deploy'], metavar: 'FILE', help: 'a .condarc to read channel_alias, custom_channels, default_channels, proxy_servers and ssl_verify from' },
  { name: 'cache', kind: 'bool', phases: ['resolve'], only: 'action', help: "restore and save the repodata cache with the runner's cache service" },
  { name: 'github-api-url', kind: 'string', phases: ['resolve'], only: 'action', help: 'GitHub REST API root' },
  { name: 'next-only', kind: 'bool', phases: ['label'], help: 'set only the next label; leave current and previous alone' },
  { name: 'label', kind: 'string', phases: ['label'], metavar: 'NAME', help: 'set just this label to the tag (no progression)' },
  { name: 'env-labels', kind: 'list', phases: ['deploy'], metavar: 'GLOB', help: 'globs on <env>/<label> selecting what to deploy (default: all)' },
  { name: 'mirror', kind: 'string', phases: ['deploy'], short: 'm', metavar: 'URL', help: 'base URL of a mirror: each channel becomes <mirror>/<last path segment of the channel>' },
  { name: 'prune', kind: 'bool', phases: ['deploy'], help: 'remove deployed prefixes that no label points to, except the newest --keep' },
  { name: 'keep', kind: 'int', phases: ['deploy'], metavar: 'N', help: `with --prune: how many unlabelled prefixes to keep per environment (default ${DEFAULT_KEEP})` },
  { name: 'pkg-cache', kind: 'string', phases: ['deploy'], metavar: 'DIR', help: 'package cache directory (default <target>/.pkg_cache)' },
  { name: 'skip-tests', kind: 'bool', phases: ['deploy'], help: 'do not run the smoke tests (env.spec tests:) before labels move (logged)' },
  { name: 'test-timeout', kind: 'int', phases: ['deploy'], metavar: 'SECONDS', help: 'seconds each smoke test command may run (default 600)' },
  { name: 'modulefiles', kind: 'string', phases: ['deploy'], metavar: 'DIR', help: 'write modulefiles into DIR/<env>/<label or deployed name>' },
  { name: 'modulefiles-format', kind: 'string', phases: ['deploy'], metavar: 'lua|tcl', help: 'lua (Lmod, default) or tcl (Environment Modules)' },
  { name: 'modulefiles-template', kind: 'string', phases: ['deploy'], metavar: 'FILE', help: 'YAML with site text for every modulefile: help, whatis, lua, tcl' },
  { name: 'group', kind: 'string', phases: ['deploy'], metavar: 'GROUP', help: 'group that owns the deployed tree (default: readable by everyone)' },
  { name: 'world-readable', kind: 'string', phases: ['deploy'], metavar: 'true|false', help: 'with --group: false makes the tree unreadable by other users (default true)' },
  { name: 'log-level', kind: 'string', phases: PHASES, only: 'action', help: 'info (default) or debug (the CLI: --verbose)' },
  { name: 'micromamba-version', kind: 'string', phases: ['setup'], only: 'action', help: 'micromamba release to install' },
  { name: 'micromamba-url', kind: 'string', phases: ['setup'], only: 'action', help: 'download URL template with {version} and {platform}' },
  { name: 'micromamba-sha256', kind: 'string', phases: ['setup'], only: 'action', help: 'expected sha256 of the download' },
];

/** The options one phase reads, in table order. */
export function optionsOf(phase: Phase, frontEnd?: 'cli' | 'action'): OptionSpec[] {
  return OPTIONS.filter((o) => o.phases.includes(phase) && (!frontEnd || !o.only || o.only === frontEnd));
}

// ---------------------------------------------------------------------------------------------
// What a front end hands in

/** A value as a front end collected it: a string, several (CLI lists), or a CLI switch. */
export type RawValue = string | readonly string[] | boolean | undefined;

export interface RawSettings {
  /** The value given for the option `name`, or undefined when none was given (or it is empty). */
  get(name: string): RawValue;
  /** How the user spells the option, for error messages: `input engine`, `--engine`. */
  label(name: string): string;
  /** Registers a secret with the masker before anything can print it. */
  setSecret(secret: string): void;
  /** The process environment (GITHUB_SERVER_URL for owner/name, RUNNER_TEMP). */
  env: NodeJS.ProcessEnv;
  /** Which front end (the CLI has no pull-request mode). */
  frontEnd: 'cli' | 'action';
}

/** The typed readers every parser uses; each refusal names the option as the user spells it. */
class Reader {
  constructor(private readonly raw: RawSettings) {}

  string(name: string): string | undefined {
    const v = this.raw.get(name);
    if (v === undefined || v === false) return undefined;
    if (v === true) throw this.refuse(name, 'needs a value');
    const s = (typeof v === 'string' ? v : v.join(' ')).trim();
    return s === '' ? undefined : s;
  }

  required(name: string, what: string): string {
    const s = this.string(name);
    if (s === undefined) {
      throw new ConfigurationError(this.raw.frontEnd === 'cli' ? `missing ${this.raw.label(name)} (${what})` : `Input required and not supplied: ${name} (${what})`);
    }
    return s;
  }

  list(name: string, fallback: string[]): string[] {
    const v = this.raw.get(name);
    if (v === undefined || v === false) return fallback;
    if (v === true) throw this.refuse(name, 'needs a value');
    const items = (typeof v === 'string' ? [v] : v).flatMap((s) => splitList(s));
    for (const item of items) {
      // eslint-disable-next-line no-control-regex
      if (/[\u0000-\u001f\u007f]/.test(item)) throw this.refuse(name, `holds a control character in "${JSON.stringify(item).slice(1, -1)}"`);
    }
    return items.length > 0 ? items : fallback;
  }

  get(name: string): RawValue {
    return this.raw.get(name);
  }

  bool(name: string): boolean {
    const v = this.raw.get(name);
    if (v === undefined || v === false) return false;
    if (v === true) return true;
    const s = (typeof v === 'string' ? v : v.join(' ')).trim();
    if (s === '' || /^(false|no|off|0)$/i.test(s)) return false;
    if (/^(true|yes|on|1)$/i.test(s)) return true;
    throw this.refuse(name, `must be true or false, got "${s}"`);
  }

  int(name: string, fallback: number): number {
    const s = this.string(name);
    if (s === undefined) return fallback;
    if (!/^\d+$/.test(s) || !Number.isSafeInteger(Number(s))) throw this.refuse(name, `must be a whole number (0 or more), got "${s}"`);
    return Number(s);
  }

  choice<T extends string>(name: string, choices: readonly T[], fallback: T): T {
    const s = this.string(name);
    if (s === undefined) return fallback;
    if (!(choices as readonly string[]).includes(s)) throw this.refuse(name, `must be ${orList(choices)}, got "${s}"`);
    return s as T;
  }

  secret(name: string): string | undefined {
    const s = this.string(name);
    if (s === undefined) return undefined;
    this.raw.setSecret(s);
    if (/[\r\n]/.test(s)) throw this.refuse(name, 'must be one line');
    return s;
  }

  url(name: string, fallback?: string): string | undefined {
    const s = this.string(name);
    if (s === undefined) return fallback;
    let url: URL | undefined;
    try {
      url = new URL(s);
    } catch {
      url = undefined;
    }
    if (!url || !['http:', 'https:', 'file:'].includes(url.protocol)) {
      throw this.refuse(name, `must be an http://, https:// or file:// URL, got "${s}"`);
    }
    if (url.username || url.password) {
      throw this.refuse(name, 'must not carry credentials: give them as api-user/api-key');
    }
    return s.replace(/\/+$/, '');
  }

  refuse(name: string, problem: string): ConfigurationError {
    return new ConfigurationError(`${this.raw.label(name)} ${problem}`);
  }
}

function orList(items: readonly string[]): string {
  return items.length <= 1 ? items.join('') : `${items.slice(0, -1).join(', ')} or ${items[items.length - 1]}`;
}

// ---------------------------------------------------------------------------------------------
// The parsers, one a phase

/** The forms `repository` takes, for the error that refuses another. */
const REPOSITORY_FORMS = 'a git URL (https://host/owner/name.git, ssh://…, file://…, git@host:owner/name.git), a local path that exists, or owner/name (a repository of this GitHub server)';
const OWNER_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\/[A-Za-z0-9_.-]+$/;

/**
 * The repository as git should be given it: URLs and existing paths as they are; `owner/name`
 * (actions/checkout's habit) as `<server>/owner/name.git`, the server being GITHUB_SERVER_URL.
 */
export function repositoryUrl(value: string, env: NodeJS.ProcessEnv, label = 'repository'): string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) {
    if (!/^(https?|file|ssh|git)(\+ssh)?:\/\//i.test(value)) {
      throw new ConfigurationError(`${label} "${value}" has a scheme git is not given here; use ${REPOSITORY_FORMS}`);
    }
    return value;
  }
  if (/^[\w.-]+@[\w.-]+:/.test(value)) return value;
  if (existsSync(value)) return value;
  if (OWNER_NAME.test(value) && !value.endsWith('.') && !value.includes('..')) {
    const server = (env.GITHUB_SERVER_URL || 'https://github.com').replace(/\/+$/, '');
    return `${server}/${value.replace(/\.git$/, '')}.git`;
  }
  throw new ConfigurationError(`${label} "${value}" is neither a URL, a path that exists nor owner/name; give ${REPOSITORY_FORMS}`);
}

function checkGlobs(r: Reader, name: string, globs: string[]): string[] {
  for (const g of globs) {
    if (g.startsWith('-')) throw r.refuse(name, `"${g}" starts with "-" (no environment or label name does)`);
  }
  return globs;
}

export function parseCommon(raw: RawSettings): CommonSettings {
  const r = new Reader(raw);
  const value = r.required('repository', 'the environments repository');
  return {
    repository: repositoryUrl(value, raw.env, raw.label('repository')),
    token: r.secret('token'),
    envs: checkGlobs(r, 'envs', r.list('envs', raw.frontEnd === 'action' ? ['*'] : [])),
    dryRun: r.bool('dry-run'),
    workDir: raw.env.RUNNER_TEMP || undefined,
  };
}

function credentials(r: Reader): ChannelCredentials {
  const apiUser = r.secret('api-user');
  const apiKey = r.secret('api-key');
  if (apiUser && !apiKey) throw r.refuse('api-user', 'is given without api-key (channels take both, as HTTP basic auth)');
  if (apiKey && !apiUser) throw r.refuse('api-key', 'is given without api-user (channels take both, as HTTP basic auth)');
  return { apiUser, apiKey };
}

const PLATFORM = /^(linux|osx|win|freebsd|emscripten|wasi|zos)-[a-z0-9]+$/;

function platformOption(r: Reader): string | undefined {
  const platform = r.string('platform');
  if (platform !== undefined && !PLATFORM.test(platform)) {
    throw r.refuse('platform', `must be a conda platform such as linux-64, linux-aarch64, osx-arm64 or win-64, got "${platform}"`);
  }
  return platform;
}

export function parseResolveSettings(raw: RawSettings): ResolveSettings {
  const r = new Reader(raw);
  const platform = platformOption(r) ?? DEFAULT_PLATFORM;
  const condarc = readCondarcOption(r);
  const modes = raw.frontEnd === 'cli' ? RESOLVE_MODES.filter((m) => m !== 'pull-request') : RESOLVE_MODES;
  const mode = r.choice('mode', modes, 'push');
  return {
    ...parseCommon(raw),
    ...credentials(r),
    platform,
    channelAlias: r.url('channel-alias', condarc?.channelAlias ?? DEFAULT_CHANNEL_ALIAS) as string,
    engine: r.choice('engine', ENGINES, 'builtin'),
    mode,
    ...(raw.frontEnd === 'action' ? { actionsCache: r.get('cache') === undefined ? true : r.bool('cache') } : {}),
    ...(condarc ? { condarc, customChannels: condarc.customChannels, defaultChannels: condarc.defaultChannels } : {}),
  };
}

function readCondarcOption(r: Reader): Condarc | undefined {
  const file = r.string('condarc');
  if (file === undefined) return undefined;
  try {
    return readCondarc(file);
  } catch (err) {
    throw r.refuse('condarc', (err as Error).message.replace(/^condarc /, ''));
  }
}

export function parseAutotagSettings(raw: RawSettings): AutotagSettings {
  return parseCommon(raw);
}

export function parseLabelSettings(raw: RawSettings): LabelSettings {
  const r = new Reader(raw);
  const common = parseCommon(raw);
  const tag = r.required('tag', 'the tag to label');
  if (!parseTag(tag)) throw r.refuse('tag', `"${tag}" is not a gitenv tag (env-<env>-<YYYY_MM_DD>[-N])`);
  const label = r.string('label');
  const problem = label === undefined ? undefined : labelNameProblem(label);
  if (problem) throw r.refuse('label', `"${label}": ${problem}`);
  const nextOnly = r.bool('next-only');
  if (nextOnly && label) throw r.refuse('next-only', `cannot be combined with ${raw.label('label')} (that sets one label, with no progression)`);
  return { ...common, tag, nextOnly, label };
}

export function parseDeploySettings(raw: RawSettings): DeploySettings {
  const r = new Reader(raw);
  const condarc = readCondarcOption(r);
  const channelAlias = r.url('channel-alias') ?? condarc?.channelAlias;
  return {
    ...parseCommon(raw),
    ...credentials(r),
    target: r.required('target', 'the directory that holds the deployed environments'),
    envLabels: checkGlobs(r, 'env-labels', r.list('env-labels', ['*'])),
    mirror: r.url('mirror'),
    engine: r.choice('engine', ENGINES, 'builtin'),
    prune: r.bool('prune'),
    keep: r.int('keep', DEFAULT_KEEP),
    pkgCache: r.string('pkg-cache'),
    platform: platformOption(r),
    skipTests: r.bool('skip-tests'),
    testTimeout: r.int('test-timeout', 600),
    modulefiles: r.string('modulefiles'),
    modulefilesFormat: r.choice('modulefiles-format', ['lua', 'tcl'] as const, 'lua'),
    modulefilesTemplate: r.string('modulefiles-template'),
    group: r.string('group'),
    worldReadable: r.string('world-readable') === undefined ? true : r.bool('world-readable'),
    // The alias that channel names of env.spec expand with: their hosts are the ones that get credentials.
    ...(channelAlias ? { channelAlias } : {}),
    ...(condarc ? { condarc } : {}),
  };
}

export function parseSetupSettings(raw: RawSettings): SetupSettings {
  const r = new Reader(raw);
  const version = r.string('micromamba-version') ?? DEFAULT_MICROMAMBA_VERSION;
  if (!/^\d+\.\d+\.\d+(-\d+)?$/.test(version)) {
    throw r.refuse('micromamba-version', `must be an exact release such as ${DEFAULT_MICROMAMBA_VERSION}, got "${version}" (the tool cache keys on it)`);
  }
  const urlTemplate = r.string('micromamba-url') ?? DEFAULT_MICROMAMBA_URL;
  if (!/^(https?|file):\/\//.test(urlTemplate)) {
    throw r.refuse('micromamba-url', `must be an http://, https:// or file:// URL template, got "${urlTemplate}"`);
  }
  const sha256 = r.string('micromamba-sha256')?.toLowerCase();
  if (sha256 !== undefined && !/^[0-9a-f]{64}$/.test(sha256)) {
    throw r.refuse('micromamba-sha256', `must be 64 hex digits, got "${sha256}"`);
  }
  return { version, urlTemplate, sha256 };
}

/** The front ends' log level: `debug` shows what GITENV_DEBUG showed. */
export function parseLogLevel(raw: RawSettings): LogLevel {
  return new Reader(raw).choice('log-level', LOG_LEVELS, 'info');
}
