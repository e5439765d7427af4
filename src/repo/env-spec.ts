import yaml from 'js-yaml';
import { isKnownPlatform, KNOWN_PLATFORMS } from '../conda/platforms.js';
import { ConfigurationError } from '../util/errors.js';
import { parseMatchSpec, type MatchSpec, type VersionCheck } from './match-spec.js';
import { ENV_SPEC_FILE } from './names.js';

/**
 * env.spec: the YAML file at the root of an environment branch (`channels:` and `env:`, the old
 * tool's format; its presence is what makes the branch an environment). Every problem is a ConfigurationError naming the file, the line when known and the
 * environment.
 */

export { ENV_SPEC_FILE };

/** A spec is a few lines; anything this big is a mistake (or an attack on the parser). */
export const MAX_ENV_SPEC_BYTES = 256 * 1024;

export interface EnvSpec {
  /** In priority order, as written: names, `defaults`, or URLs. */
  channels: string[];
  /** The match specs as written (trimmed), from `env:` or its synonym `dependencies:`. */
  specs: string[];
  /** Each spec taken apart, same order as `specs`. */
  matchSpecs: MatchSpec[];
  /** `tests:`: shell commands deploy runs in a new prefix before a label moves to it (none when absent). */
  tests: string[];
  /** The conda subdirs of `platforms:`, as written; undefined when the key is absent. */
  platforms?: string[];
}

export interface EnvSpecSource {
  /** The environment's name (the branch). */
  env: string;
  /** The file name used in messages; default `env.spec`. */
  file?: string;
}

const KNOWN_KEYS = ['channels', 'env', 'dependencies', 'platforms', 'tests'];
/** A smoke test is one shell command line, not a script: longer is a mistake. */
export const MAX_TEST_LENGTH = 4096;
// Segments of a channel name (`conda-forge`, `conda-forge/label/dev`); never `.` or `..`, which would
// turn a name into a path on the runner.
const CHANNEL_NAME = /^(?!\.{1,2}(?:\/|$))[A-Za-z0-9_.-]+(?:\/(?!\.{1,2}(?:\/|$))[A-Za-z0-9_.-]+)*$/;
const CHANNEL_URL = /^(?:https?|file):\/\/./;

/**
 * Parses and validates an env.spec; throws ConfigurationError on any problem. `versions` checks the
 * specs' versions (match-spec.ts VersionCheck), or `'unchecked'` leaves them to the solver.
 */
export function parseEnvSpec(content: string | Buffer, source: EnvSpecSource, versions: VersionCheck | 'unchecked'): EnvSpec {
  const problem = problemReporter(source);
  const size = typeof content === 'string' ? Buffer.byteLength(content) : content.length;
  if (size > MAX_ENV_SPEC_BYTES) problem(`is ${size} bytes, more than the ${MAX_ENV_SPEC_BYTES} an env.spec may have`);
  const text = typeof content === 'string' ? content : decodeUtf8(content, problem);

  const scalars: Scalar[] = [];
  const doc = loadYaml(text, scalars, problem);
  if (doc === null || doc === undefined) problem('is empty: it needs "channels:" and "env:" lists');
  if (typeof doc !== 'object' || Array.isArray(doc)) problem(`must be a mapping with "channels:" and "env:", not ${kindOf(doc)}`);
  const map = doc as Record<string, unknown>;
  const lines = new LineFinder(scalars);

  for (const key of Object.keys(map)) {
    if (!KNOWN_KEYS.includes(key)) {
      problem(`unknown key "${key}" (allowed: channels, env, its synonym dependencies, platforms, and tests)`, lines.key(key));
    }
  }
  if ('env' in map && 'dependencies' in map) {
    problem('has both "env:" and "dependencies:"; use one of them', lines.key('dependencies'));
  }
  const specKey = 'dependencies' in map ? 'dependencies' : 'env';
  const channels = stringList(map, 'channels', lines, problem);
  const specs = stringList(map, specKey, lines, problem);
  if (channels.length === 0) problem('"channels:" is empty: name at least one channel', lines.key('channels'));
  if (specs.length === 0) problem(`"${specKey}:" is empty: list at least one package`, lines.key(specKey));

  channels.forEach((channel, i) => checkChannel(channel, () => lines.item('channels', i), problem));
  const matchSpecs = specs.map((spec, i) => {
    try {
      return parseMatchSpec(spec, versions);
    } catch (err) {
      return problem(`"${spec}" is not a valid match spec: ${(err as Error).message}`, lines.item(specKey, i));
    }
  });
  const tests = 'tests' in map ? stringList(map, 'tests', lines, problem) : [];
  tests.forEach((command, i) => checkTest(command, () => lines.item('tests', i), problem));
  const spec: EnvSpec = { channels, specs, matchSpecs, tests };
  if ('platforms' in map) spec.platforms = platformList(map, lines, problem);
  return spec;
}

/** A test is a non-empty shell command; a NUL could not be passed to the shell at all. */
function checkTest(command: string, line: () => number | undefined, problem: Problem): void {
  if (command === '') problem('"tests:" holds an empty command', line());
  if (command.includes('\0')) problem('a command in "tests:" holds a NUL character', line());
  if (command.length > MAX_TEST_LENGTH) problem(`a command in "tests:" is longer than ${MAX_TEST_LENGTH} characters`, line());
}

/** `platforms:`: known conda subdirs, each once, at least one. */
function platformList(map: Record<string, unknown>, lines: LineFinder, problem: Problem): string[] {
  const platforms = stringList(map, 'platforms', lines, problem);
  if (platforms.length === 0) problem('"platforms:" is empty: list at least one platform, or leave the key out', lines.key('platforms'));
  platforms.forEach((p, i) => {
    if (!isKnownPlatform(p)) {
      problem(`"${p}" is not a conda platform (known: ${KNOWN_PLATFORMS.join(', ')}; noarch is always included)`, lines.item('platforms', i));
    }
    if (platforms.indexOf(p) !== i) problem(`platform "${p}" is listed twice`, lines.item('platforms', i));
  });
  return platforms;
}

type Problem = (message: string, line?: number) => never;

/** YAML is UTF-8: a byte that is not would otherwise be replaced silently and the file accepted. */
function decodeUtf8(content: Buffer, problem: Problem): string {
  const strict = new TextDecoder('utf-8', { fatal: true });
  try {
    return strict.decode(content);
  } catch {
    let start = 0;
    for (let line = 1; start <= content.length; line++) {
      const end = content.indexOf(0x0a, start) === -1 ? content.length : content.indexOf(0x0a, start);
      try {
        strict.decode(content.subarray(start, end));
      } catch {
        return problem('is not valid UTF-8 (YAML files must be)', line);
      }
      start = end + 1;
    }
    return problem('is not valid UTF-8 (YAML files must be)');
  }
}

function problemReporter(source: EnvSpecSource): Problem {
  const file = source.file ?? ENV_SPEC_FILE;
  return (message, line) => {
    const where = line ? `${file} line ${line}` : file;
    throw new ConfigurationError(`${where} of environment "${source.env}": ${message}`, { env: source.env, file, line });
  };
}

/** A string scalar and the 1-based line it ends on, in document order. */
interface Scalar {
  value: string;
  line: number;
}

function loadYaml(text: string, scalars: Scalar[], problem: Problem): unknown {
  const lineStarts = [0];
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) lineStarts.push(i + 1);
  let lastPosition = -1;
  try {
    // CORE_SCHEMA: no timestamps, no merge keys (`<<`), the usual alias-bomb vehicle; a low maxDepth
    // and the size cap bound the rest. Aliases are only references in js-yaml, and nothing below
    // walks a value deeper than a list of strings, so a billion laughs costs nothing here.
    const options: yaml.LoadOptions & { maxDepth: number } = {
      schema: yaml.CORE_SCHEMA,
      maxDepth: 20, // js-yaml 4.3 option, not yet in @types/js-yaml
      listener(event, state) {
        // A list item's scalar closes twice (the item and the scalar): keep it once.
        if (event === 'close' && typeof state.result === 'string' && state.position !== lastPosition) {
          lastPosition = state.position;
          scalars.push({ value: state.result, line: lineOf(lineStarts, lastContent(text, state.position)) });
        }
      },
    };
    return yaml.load(text, options);
  } catch (err) {
    if (err instanceof yaml.YAMLException) {
      return problem(`is not valid YAML: ${err.reason}`, err.mark ? err.mark.line + 1 : undefined);
    }
    throw err;
  }
}

/** The offset of the last non-blank character before `pos` (where a scalar really ended). */
function lastContent(text: string, pos: number): number {
  let i = Math.min(pos, text.length) - 1;
  while (i > 0 && /\s/.test(text[i])) i--;
  return i;
}

function lineOf(lineStarts: number[], offset: number): number {
  let lo = 0;
  let hi = lineStarts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (lineStarts[mid] <= offset) lo = mid;
    else hi = mid - 1;
  }
  return lo + 1;
}

/** Finds the lines of top-level keys and of their list items from the scalars seen while parsing. */
class LineFinder {
  private readonly values = new Map<string, string[]>();
  constructor(private readonly scalars: Scalar[]) {}

  key(key: string): number | undefined {
    return this.scalars[this.keyIndex(key)]?.line;
  }

  item(key: string, index: number): number | undefined {
    let at = this.keyIndex(key);
    if (at < 0) return undefined;
    let line: number | undefined;
    for (let i = 0; i <= index; i++) {
      at = this.scalars.findIndex((s, j) => j > at && s.value.trim() === this.valueAt(key, i));
      if (at < 0) return undefined;
      line = this.scalars[at].line;
    }
    return line;
  }

  /** The items of a list, so that item lines can be looked up by value. */
  remember(key: string, items: string[]): void {
    this.values.set(key, items);
  }
  private valueAt(key: string, i: number): string | undefined {
    return this.values.get(key)?.[i];
  }
  private keyIndex(key: string): number {
    return this.scalars.findIndex((s) => s.value === key);
  }
}

function stringList(map: Record<string, unknown>, key: string, lines: LineFinder, problem: Problem): string[] {
  if (!(key in map)) problem(`"${key}:" is missing: it must be a list of strings`);
  const value = map[key];
  if (value === null) return [];
  if (!Array.isArray(value)) problem(`"${key}:" must be a list of strings, not ${kindOf(value)}`, lines.key(key));
  const items = (value as unknown[]).map((item, i) => {
    if (typeof item === 'string') return item.trim();
    if (item !== null && typeof item === 'object' && !Array.isArray(item) && 'pip' in item) {
      return problem(`"${key}:" item ${i + 1} is a pip section; gitenv installs conda packages only`, lines.key('pip'));
    }
    return problem(`"${key}:" item ${i + 1} must be a string, not ${kindOf(item)} (quote it if it is a version)`, lines.key(key));
  });
  lines.remember(key, items);
  return items;
}

function checkChannel(channel: string, line: () => number | undefined, problem: Problem): void {
  if (CHANNEL_URL.test(channel)) {
    let url: URL | undefined;
    try {
      url = new URL(channel);
    } catch {
      problem(`channel "${channel}" is not a valid URL`, line());
    }
    if (url && (url.username || url.password)) {
      problem('a channel URL must not carry credentials: give them as api-user/api-key instead', line());
    }
    return;
  }
  // A local directory, as conda takes one; only absolute (or home-relative) paths, since a relative
  // one would depend on where the runner happens to stand.
  if (/^(\/|~\/)/.test(channel)) return;
  if (!CHANNEL_NAME.test(channel)) {
    problem(`channel "${channel}" is neither a channel name, "defaults", an https://, http:// or file:// URL, nor an absolute directory`, line());
  }
}

function kindOf(value: unknown): string {
  if (value === null || value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  const shown = JSON.stringify(value);
  return `a ${typeof value} (${shown.length > 40 ? shown.slice(0, 37) + '...' : shown})`;
}
