/**
 * A conda match spec as written in env.spec, taken apart far enough to reject what no solver can
 * read (the resolve phase hands the original string to the solver).
 */
export interface MatchSpec {
  name: string;
  version?: string;
  build?: string;
  channel?: string;
  /** `key=value` pairs of the bracket form (`numpy[version='>=2']`), quotes removed. */
  brackets?: Record<string, string>;
}

const NAME = /^[A-Za-z0-9_*][A-Za-z0-9_.*-]*$/;
const BUILD = /^[A-Za-z0-9_.*+!-]+$/;
const BRACKET_PAIR = /\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*("[^"]*"|'[^']*'|[^,]*?)\s*(?:,|$)/y;

/**
 * What checks a version spec (throws an Error saying what is wrong): version-check.ts, rattler's
 * parser. Passed in rather than imported, so that what only reads env.spec (a deploy's channels,
 * requested specs and tests, of a tag resolved once) does not load the solver's WebAssembly: 3 MB
 * compiled and instantiated at every start of the deploy action, for nothing it uses.
 */
export type VersionCheck = (version: string) => void;

/**
 * Parses a match spec; throws an Error whose message says what is wrong with it. Its version (if
 * any) is checked by `versions`, or, `'unchecked'`, only taken apart.
 */
export function parseMatchSpec(text: string, versions: VersionCheck | 'unchecked'): MatchSpec {
  let rest = text.trim();
  if (rest === '') throw new Error('the match spec is empty');
  const spec: Partial<MatchSpec> = {};

  const bracket = /^(.*?)\[(.*)\]$/s.exec(rest);
  if (bracket) {
    spec.brackets = parseBrackets(bracket[2]);
    rest = bracket[1].trim();
  }
  const colons = rest.lastIndexOf('::');
  if (colons >= 0) {
    spec.channel = rest.slice(0, colons);
    rest = rest.slice(colons + 2);
    if (!spec.channel) throw new Error('the channel before "::" is empty');
  }
  Object.assign(spec, splitNameVersionBuild(rest));
  const version = spec.version ?? spec.brackets?.version;
  if (version !== undefined && versions !== 'unchecked') versions(version);
  if (spec.build !== undefined && !BUILD.test(spec.build)) throw new Error(`"${spec.build}" is not a build string`);
  return spec as MatchSpec;
}

/** `name`, `name version`, `name version build`, `name>=1`, `name=1.2`, `name=1.2=build`. */
function splitNameVersionBuild(text: string): { name: string; version?: string; build?: string } {
  // conda accepts spaces around operators and separators ("python >= 3.8, < 4").
  const normal = text.replace(/\s*([,|])\s*/g, '$1').replace(/([<>=!~]=?)\s+/g, '$1');
  const tokens = normal.split(/\s+/).filter(Boolean);
  const first = tokens[0] ?? '';
  const op = first.search(/[<>=!~]/);
  const name = op >= 0 ? first.slice(0, op) : first;
  if (!NAME.test(name)) throw new Error(`"${name}" is not a package name`);
  if (op >= 0) {
    if (tokens.length > 2) throw new Error('too many parts: expected "name version [build]"');
    const attached = first.slice(op);
    if (attached.startsWith('=') && !attached.startsWith('==')) {
      // conda's `name=1.2=build` form: `=1.2` means 1.2.*.
      const [version, build, extra] = attached.slice(1).split('=');
      if (extra !== undefined) throw new Error('too many "=" parts: expected "name=version=build"');
      return { name, version: `=${version}`, build: build ?? tokens[1] };
    }
    return { name, version: attached, build: tokens[1] };
  }
  if (tokens.length > 3) throw new Error('too many parts: expected "name version [build]"');
  return { name, version: tokens[1], build: tokens[2] };
}

function parseBrackets(body: string): Record<string, string> {
  const pairs: Record<string, string> = {};
  BRACKET_PAIR.lastIndex = 0;
  while (BRACKET_PAIR.lastIndex < body.length) {
    const start = BRACKET_PAIR.lastIndex;
    const m = BRACKET_PAIR.exec(body);
    if (!m || BRACKET_PAIR.lastIndex === start) throw new Error(`cannot read "[${body}]": expected key=value pairs`);
    pairs[m[1]] = m[2].replace(/^(["'])(.*)\1$/s, '$2');
  }
  return pairs;
}
