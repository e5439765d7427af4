/**
 * The CLI's command line, read the way conda-gitenv's argparse read it, so that old scripts and
 * cron lines run unchanged: options before, between and after the positionals; a list option
 * takes every value up to the next option (argparse's nargs='+') and may be repeated; `--api_key`
 * and `--api-key` are the same option; `-k KEY`, `-kKEY`, `--api-key=KEY`; `--` ends the options.
 *
 * It only collects strings: which options a command has and what they mean come from the option
 * table in phases/settings.ts, and the settings parsers judge the values.
 */
import { optionsOf, type OptionSpec, type Phase } from './phases/settings.js';
import { GitenvError } from './util/errors.js';
import { VERSION } from './version.js';

export const COMMANDS: Record<Exclude<Phase, 'setup'>, string> = {
  resolve: "resolve each environment branch's env.spec into manifest/<env> (env.manifest, env.lock, env.spec)",
  autotag: 'tag each untagged head of manifest/<env> as env-<env>-<YYYY_MM_DD>[-N]',
  label: 'point labels at a tag: next, and current and previous along with it, or one named label',
  deploy: 'deploy labelled tags as conda prefixes under the target, with label symlinks',
};
export type Command = keyof typeof COMMANDS;

/** The switches every command has, beside its own options. */
const GLOBAL: OptionSpec[] = [
  { name: 'verbose', kind: 'bool', phases: [], short: 'v', help: 'show debug lines too (git commands, requests); GITENV_DEBUG=1 does the same' },
  { name: 'help', kind: 'bool', phases: [], short: 'h', help: 'show this help and exit' },
  { name: 'version', kind: 'bool', phases: [], help: 'print the version and exit' },
];

/** A mistake in the command line itself: printed with the command's usage line, exit code 2. */
export class UsageError extends GitenvError {
  constructor(
    message: string,
    readonly command?: Command,
  ) {
    super(message);
  }
}

export interface CommandLine {
  /** undefined with --help or --version and no command. */
  command?: Command;
  /** Option name (the table's) → what was given: a string, the list, or true for a switch. */
  values: Map<string, string | string[] | true>;
  help: boolean;
  version: boolean;
  verbose: boolean;
}

function isCommand(word: string | undefined): word is Command {
  return word !== undefined && Object.hasOwn(COMMANDS, word);
}

export function cliOptions(command: Command): OptionSpec[] {
  return optionsOf(command, 'cli');
}

const positionals = (command: Command) => cliOptions(command).filter((o) => o.positional);
const flags = (command: Command | undefined) => [...(command ? cliOptions(command).filter((o) => !o.positional) : []), ...GLOBAL];
const argName = (o: OptionSpec) => `<${o.cliName ?? (o.name === 'repository' ? 'repo' : o.name)}>`;

/** How an option is spelled in messages: `--engine`, `argument <repo>`. */
export function cliLabel(command: Command, name: string): string {
  const o = cliOptions(command).find((x) => x.name === name);
  return o?.positional ? `argument ${argName(o)}` : `--${name}`;
}

/** `gitenv deploy <repo> <target> [options]`. */
export function usageLine(command?: Command): string {
  if (!command) return `gitenv {${Object.keys(COMMANDS).join(',')}} ... [options]`;
  return `gitenv ${command} ${positionals(command).map(argName).join(' ')} [options]`;
}

function flagText(o: OptionSpec): string {
  const long = `--${o.name}`;
  const value = o.kind === 'bool' ? '' : o.kind === 'list' ? ` ${o.metavar} [${o.metavar} ...]` : ` ${o.metavar ?? 'VALUE'}`;
  return (o.short ? `-${o.short}, ` : '    ') + long + value;
}

/** `gitenv <command> --help`: every option of the command with its meaning. */
export function helpText(command?: Command): string {
  if (!command) {
    const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
    return [
      `gitenv ${VERSION}: conda environments deployed from a git repository.`,
      '',
      'usage:',
      ...(Object.keys(COMMANDS) as Command[]).map((c) => `  ${usageLine(c)}`),
      '',
      'commands:',
      ...Object.entries(COMMANDS).map(([c, what]) => `  ${c.padEnd(width)}  ${what}`),
      '',
      "`gitenv <command> --help` lists a command's options. Options:",
      ...GLOBAL.map((o) => `  ${flagText(o).padEnd(16)}  ${o.help}`),
    ].join('\n');
  }
  const args = positionals(command);
  const opts = flags(command);
  const width = Math.max(...[...args.map((o) => argName(o).length), ...opts.map((o) => flagText(o).length)]);
  return [
    `usage: ${usageLine(command)}`,
    '',
    `${COMMANDS[command]}.`,
    '',
    'arguments:',
    ...args.map((o) => `  ${argName(o).padEnd(width)}  ${o.help}`),
    '',
    'options:',
    ...opts.map((o) => `  ${flagText(o).padEnd(width)}  ${o.help}`),
    '',
    'Options are also accepted with "_" for "-" (--api_key, --env_labels), as conda-gitenv spelled them.',
  ].join('\n');
}

/** A value-looking word: not an option (a lone `-` and negative numbers are values, as in argparse). */
const isValue = (word: string) => !word.startsWith('-') || word === '-' || /^-\d+(\.\d+)?$/.test(word);

/** Reads argv into a command and its strings. Throws UsageError with a plain sentence. */
export function parseCommandLine(argv: readonly string[]): CommandLine {
  const line: CommandLine = { values: new Map(), help: false, version: false, verbose: false };
  const free: string[] = [];
  let i = 0;
  const take = (o: OptionSpec, inline: string | undefined, spelled: string): void => {
    if (o.kind === 'bool') {
      if (inline !== undefined) throw new UsageError(`option ${spelled} takes no value (got "${inline}")`, line.command);
      if (o.name === 'help') line.help = true;
      else if (o.name === 'version') line.version = true;
      else if (o.name === 'verbose') line.verbose = true;
      else line.values.set(o.name, true);
      return;
    }
    if (o.kind === 'list') {
      const got: string[] = inline !== undefined ? [inline] : [];
      while (inline === undefined && i < argv.length && isValue(argv[i])) got.push(argv[i++]);
      if (got.length === 0) throw new UsageError(`option ${spelled} needs at least one value: ${spelled} ${o.metavar} [${o.metavar} ...]`, line.command);
      const before = line.values.get(o.name);
      line.values.set(o.name, [...(Array.isArray(before) ? before : []), ...got]);
      return;
    }
    let value = inline;
    if (value === undefined) {
      if (i >= argv.length || !isValue(argv[i])) throw new UsageError(`option ${spelled} needs a value: ${spelled} ${o.metavar ?? 'VALUE'}`, line.command);
      value = argv[i++];
    }
    line.values.set(o.name, value);
  };
  const find = (pred: (o: OptionSpec) => boolean): OptionSpec | undefined => flags(line.command).find(pred);
  while (i < argv.length) {
    const word = argv[i++];
    if (word === '--') {
      free.push(...argv.slice(i));
      break;
    }
    if (word.startsWith('--')) {
      const eq = word.indexOf('=');
      const spelled = eq < 0 ? word : word.slice(0, eq);
      const name = spelled.slice(2).replace(/_/g, '-');
      const o = find((x) => x.name === name);
      if (!o) throw unknownOption(spelled, line.command);
      take(o, eq < 0 ? undefined : word.slice(eq + 1), spelled);
    } else if (!isValue(word)) {
      // -k KEY, -kKEY, -vh
      for (let j = 1; j < word.length; j++) {
        const o = find((x) => x.short === word[j]);
        if (!o) throw unknownOption(`-${word[j]}`, line.command);
        const rest = word.slice(j + 1);
        if (o.kind !== 'bool' && rest !== '') {
          take(o, rest, `-${word[j]}`);
          break;
        }
        take(o, undefined, `-${word[j]}`);
      }
    } else if (line.command === undefined && free.length === 0) {
      if (word === 'help') {
        line.help = true;
        if (isCommand(argv[i])) line.command = argv[i++] as Command;
        continue;
      }
      if (!isCommand(word)) throw new UsageError(`unknown command "${word}"; the commands are ${Object.keys(COMMANDS).join(', ')}`);
      line.command = word;
    } else {
      free.push(word);
    }
  }
  if (line.help || line.version) return line;
  if (!line.command) throw new UsageError('a command is required');
  assignPositionals(line, free);
  return line;
}

function assignPositionals(line: CommandLine, free: string[]): void {
  const command = line.command as Command;
  const wanted = positionals(command);
  if (free.length < wanted.length) throw new UsageError(`missing argument ${argName(wanted[free.length])}: ${wanted[free.length].help}`, command);
  if (free.length > wanted.length) throw new UsageError(`unexpected argument "${free[wanted.length]}"`, command);
  wanted.forEach((o, k) => line.values.set(o.name, free[k]));
}

function unknownOption(spelled: string, command: Command | undefined): UsageError {
  const where = command ? `gitenv ${command}` : 'gitenv';
  const elsewhere = command ? (Object.keys(COMMANDS) as Command[]).filter((c) => c !== command && flags(c).some((o) => `--${o.name}` === spelled.replace(/_/g, '-'))) : [];
  const hint = elsewhere.length > 0 ? ` (it belongs to gitenv ${elsewhere.join(', gitenv ')})` : '';
  return new UsageError(`${where} has no option ${spelled}${hint}`, command);
}
