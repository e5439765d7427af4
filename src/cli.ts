import { parseArgs } from 'node:util';
import { autotag } from './phases/autotag.js';
import { deploy } from './phases/deploy.js';
import { label } from './phases/label.js';
import { resolve } from './phases/resolve.js';
import type { PhaseResult } from './phases/result.js';
import {
  DEFAULT_CHANNEL_ALIAS,
  DEFAULT_PLATFORM,
  type CommonSettings,
  type DeploySettings,
  type Engine,
  type ResolveMode,
} from './phases/settings.js';
import { ConfigurationError, errorMessage } from './util/errors.js';
import { ConsoleLogger, type Logger } from './util/logger.js';
import { VERSION } from './version.js';

const USAGE: Record<string, string> = {
  resolve:
    'gitenv resolve <repo> [--envs GLOB...] [--platform P] [--channel-alias URL] [--api-user U --api-key K] [--engine builtin|micromamba] [--dry-run]',
  autotag: 'gitenv autotag <repo> [--envs GLOB...] [--dry-run]',
  label: 'gitenv label <repo> <tag> [--next-only] [--label NAME] [--dry-run]',
  deploy:
    'gitenv deploy <repo> <target> [--env-labels GLOB...] [--mirror URL] [--prune [--keep N]] [--pkg-cache DIR] [--skip-tests] [--test-timeout SEC] [--modulefiles DIR [--modulefiles-format lua|tcl] [--modulefiles-template FILE]] [--group G [--no-world-readable]] [--api-user U --api-key K] [--engine builtin|micromamba] [--platform P] [--dry-run]',
};

const HELP = `gitenv ${VERSION}: conda environments deployed from a git repository.

Usage:
  ${Object.values(USAGE).join('\n  ')}

Common options:
  --envs GLOB      environments to act on (repeatable; default: all)
  --token TOKEN    token for https remotes (or GITENV_TOKEN); sent as a header, never logged
  --dry-run        plan and report, change nothing
  -h, --help       this text;  --version  the version

Credentials for channels come from --api-user/--api-key or GITENV_API_USER/GITENV_API_KEY.
`;

type Values = Record<string, string | boolean | string[] | undefined>;

const OPTIONS = {
  envs: { type: 'string', multiple: true },
  token: { type: 'string' },
  'dry-run': { type: 'boolean' },
  platform: { type: 'string' },
  'channel-alias': { type: 'string' },
  'api-user': { type: 'string' },
  'api-key': { type: 'string' },
  engine: { type: 'string' },
  mode: { type: 'string' },
  'next-only': { type: 'boolean' },
  label: { type: 'string' },
  'env-labels': { type: 'string', multiple: true },
  mirror: { type: 'string' },
  prune: { type: 'boolean' },
  keep: { type: 'string' },
  'pkg-cache': { type: 'string' },
  'skip-tests': { type: 'boolean' },
  'test-timeout': { type: 'string' },
  modulefiles: { type: 'string' },
  'modulefiles-format': { type: 'string' },
  'modulefiles-template': { type: 'string' },
  group: { type: 'string' },
  'no-world-readable': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
} as const;

class UsageError extends Error {}

/** Runs the CLI; returns the exit code. Only this function touches argv and the exit code. */
export async function main(argv: string[], logger: Logger = new ConsoleLogger()): Promise<number> {
  let command: string | undefined;
  try {
    const { values, positionals } = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
    if (values.version) {
      logger.info(VERSION);
      return 0;
    }
    command = positionals[0];
    if (values.help || command === 'help') {
      logger.info(command && USAGE[command] && command !== 'help' ? `usage: ${USAGE[command]}` : HELP.trimEnd());
      return 0;
    }
    if (!command) throw new UsageError('a command is required');
    const result = await dispatch(command, positionals.slice(1), values, logger);
    if (result.failed.length > 0) {
      const names = result.failed.map((f) => f.env).join(', ');
      logger.error(`gitenv ${command}: ${result.failed.length} environment(s) failed: ${names}`);
      return 1;
    }
    return 0;
  } catch (err) {
    if (err instanceof UsageError || (err instanceof TypeError && 'code' in err)) {
      logger.error(`${errorMessage(err)}\nusage: ${command && USAGE[command] ? USAGE[command] : Object.values(USAGE).join('\n       ')}`);
      return 2;
    }
    logger.error(`gitenv ${command}: ${errorMessage(err).split('\n')[0]}`);
    for (const line of errorMessage(err).split('\n').slice(1)) logger.debug(line);
    return 1;
  }
}

function requireArgs(command: string, args: string[], names: string[]): string[] {
  if (args.length < names.length) throw new UsageError(`missing argument <${names[args.length]}>`);
  if (args.length > names.length) throw new UsageError(`unexpected argument "${args[names.length]}"`);
  return args;
}

function str(values: Values, name: string): string | undefined {
  const v = values[name];
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function list(values: Values, name: string): string[] {
  const v = values[name];
  return Array.isArray(v) ? v.flatMap((s) => s.split(',')).filter(Boolean) : [];
}

function engineOf(values: Values): Engine {
  const e = str(values, 'engine') ?? 'builtin';
  if (e !== 'builtin' && e !== 'micromamba') throw new ConfigurationError(`--engine must be builtin or micromamba, got "${e}"`);
  return e;
}

function common(values: Values, repository: string, logger: Logger): CommonSettings {
  // An empty GITENV_TOKEN is no token (it must not hide one given in the repository URL).
  const token = str(values, 'token') ?? (process.env.GITENV_TOKEN || undefined);
  if (token) logger.setSecret(token);
  return { repository, token, envs: list(values, 'envs'), dryRun: values['dry-run'] === true };
}

function credentials(values: Values, logger: Logger): { apiUser?: string; apiKey?: string } {
  const apiUser = str(values, 'api-user') ?? process.env.GITENV_API_USER;
  const apiKey = str(values, 'api-key') ?? process.env.GITENV_API_KEY;
  if (apiUser) logger.setSecret(apiUser);
  if (apiKey) logger.setSecret(apiKey);
  return { apiUser, apiKey };
}

/** Deploy's options for shared sites: smoke tests, modulefiles, who may read the tree. */
function hpcOptions(values: Values): Partial<DeploySettings> {
  const timeout = Number(str(values, 'test-timeout') ?? '600');
  if (!Number.isInteger(timeout) || timeout <= 0) throw new ConfigurationError('--test-timeout must be a whole number of seconds');
  const format = str(values, 'modulefiles-format') ?? 'lua';
  if (format !== 'lua' && format !== 'tcl') throw new ConfigurationError(`--modulefiles-format must be lua or tcl, got "${format}"`);
  return {
    skipTests: values['skip-tests'] === true,
    testTimeout: timeout,
    modulefiles: str(values, 'modulefiles'),
    modulefilesFormat: format,
    modulefilesTemplate: str(values, 'modulefiles-template'),
    group: str(values, 'group'),
    worldReadable: values['no-world-readable'] !== true,
  };
}

async function dispatch(command: string, args: string[], values: Values, logger: Logger): Promise<PhaseResult> {
  const services = { logger };
  switch (command) {
    case 'resolve': {
      const [repo] = requireArgs(command, args, ['repo']);
      const mode = (str(values, 'mode') ?? 'push') as ResolveMode;
      return resolve(
        {
          ...common(values, repo, logger),
          ...credentials(values, logger),
          platform: str(values, 'platform') ?? DEFAULT_PLATFORM,
          channelAlias: str(values, 'channel-alias') ?? DEFAULT_CHANNEL_ALIAS,
          engine: engineOf(values),
          mode,
        },
        services,
      );
    }
    case 'autotag': {
      const [repo] = requireArgs(command, args, ['repo']);
      return autotag(common(values, repo, logger), services);
    }
    case 'label': {
      const [repo, tag] = requireArgs(command, args, ['repo', 'tag']);
      return label(
        { ...common(values, repo, logger), tag, nextOnly: values['next-only'] === true, label: str(values, 'label') },
        services,
      );
    }
    case 'deploy': {
      const [repo, target] = requireArgs(command, args, ['repo', 'target']);
      const keep = Number(str(values, 'keep') ?? '2');
      if (!Number.isInteger(keep) || keep < 0) throw new ConfigurationError('--keep must be a whole number');
      const envLabels = list(values, 'env-labels');
      return deploy(
        {
          ...common(values, repo, logger),
          ...credentials(values, logger),
          target,
          envLabels: envLabels.length > 0 ? envLabels : ['*'],
          mirror: str(values, 'mirror'),
          engine: engineOf(values),
          prune: values.prune === true,
          keep,
          pkgCache: str(values, 'pkg-cache'),
          ...hpcOptions(values),
          platform: str(values, 'platform'),
        },
        services,
      );
    }
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}
