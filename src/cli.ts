import { cliLabel, helpText, parseCommandLine, usageLine, UsageError, type Command, type CommandLine } from './cli-parser.js';
import { autotag } from './phases/autotag.js';
import { deploy } from './phases/deploy.js';
import { EXIT_BUG, EXIT_FAILURE, EXIT_USAGE, reportError } from './phases/error-report.js';
import { label } from './phases/label.js';
import { applySiteSettings } from './phases/site.js';
import { resolve } from './phases/resolve.js';
import type { PhaseResult } from './phases/result.js';
import { optionsOf, parseAutotagSettings, parseDeploySettings, parseLabelSettings, parseResolveSettings, type RawSettings } from './phases/settings.js';
import { ConfigurationError } from './util/errors.js';
import { ConsoleLogger, ignoreClosedPipes, type Logger } from './util/logger.js';
import { VERSION } from './version.js';

/** The strings of a command line (and the GITENV_* variables it falls back on), for the settings parsers. */
function rawSettings(line: CommandLine, logger: Logger, env: NodeJS.ProcessEnv): RawSettings {
  const command = line.command as Command;
  const specs = optionsOf(command, 'cli');
  return {
    get: (name) => {
      const given = line.values.get(name);
      if (given !== undefined) return given;
      const fallback = specs.find((o) => o.name === name)?.env;
      // An empty GITENV_TOKEN is no token (it must not hide one given in the repository URL).
      return fallback && env[fallback] ? env[fallback] : undefined;
    },
    label: (name) => cliLabel(command, name),
    setSecret: (secret) => logger.setSecret(secret),
    env,
    frontEnd: 'cli',
  };
}

async function dispatch(line: CommandLine, logger: Logger, env: NodeJS.ProcessEnv): Promise<PhaseResult> {
  const raw = rawSettings(line, logger, env);
  const services = { logger };
  const command = line.command as Command;
  // Settings are parsed before anything runs: a refused value is a usage error.
  const asUsage = <T>(parse: () => T): T => {
    try {
      return parse();
    } catch (err) {
      if (err instanceof ConfigurationError) throw new UsageError(err.message, command);
      throw err;
    }
  };
  switch (command) {
    case 'resolve': {
      const settings = asUsage(() => parseResolveSettings(raw));
      applySiteSettings(settings, logger, env);
      return resolve(settings, services);
    }
    case 'autotag': {
      const settings = asUsage(() => parseAutotagSettings(raw));
      applySiteSettings(undefined, logger, env);
      return autotag(settings, services);
    }
    case 'label': {
      const settings = asUsage(() => parseLabelSettings(raw));
      applySiteSettings(undefined, logger, env);
      return label(settings, services);
    }
    case 'deploy': {
      const settings = asUsage(() => parseDeploySettings(raw));
      applySiteSettings(settings, logger, env);
      return deploy(settings, services);
    }
  }
}

/** Runs the CLI; returns the exit code. Only this function touches argv and the exit code. */
export async function main(argv: string[], logger = new ConsoleLogger(), env: NodeJS.ProcessEnv = process.env): Promise<number> {
  ignoreClosedPipes(process.stdout, process.stderr);
  let command: Command | undefined;
  try {
    const line = parseCommandLine(argv);
    command = line.command;
    if (line.verbose) logger.debugEnabled = true;
    if (line.version) {
      logger.info(VERSION);
      return 0;
    }
    if (line.help) {
      logger.info(helpText(line.command));
      return 0;
    }
    const result = await dispatch(line, logger, env);
    if (result.failed.length > 0) {
      const names = result.failed.map((f) => f.env).join(', ');
      logger.error(`gitenv ${command}: ${result.failed.length} environment(s) failed: ${names}`);
      return EXIT_FAILURE;
    }
    return 0;
  } catch (err) {
    if (err instanceof UsageError) {
      const cmd = err.command ?? command;
      logger.error(`gitenv${cmd ? ` ${cmd}` : ''}: ${err.message}\nusage: ${usageLine(cmd)}\n(gitenv${cmd ? ` ${cmd}` : ''} --help lists the options)`);
      return EXIT_USAGE;
    }
    const report = reportError(err);
    logger.error(`gitenv${command ? ` ${command}` : ''}: ${report.message}`);
    return report.bug ? EXIT_BUG : EXIT_FAILURE;
  }
}
