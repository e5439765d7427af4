/**
 * Conditional dependencies (`bar[when="__linux"]`, rattler's match-spec key): the WASM solver of
 * @conda-org/rattler 0.3.5 refuses the `when` key. A condition on virtual packages only is decided
 * here, exactly, against the virtual packages of the solve: the dependency is handed to the solver
 * without its condition when it holds, and left out when it does not. A condition on a real
 * package (`python >=3.10`) can only be decided by the solver itself: such a dependency is an error
 * that says so, never a guess.
 */
import { Version, VersionSpec } from '@conda-org/rattler';
import type { VirtualPackage } from '../conda/types.js';
import { specName } from '../conda/types.js';
import { GitenvError } from '../util/errors.js';
import { isVirtualPackage } from '../conda/virtual-packages.js';

/** A condition the builtin solver cannot decide. */
export class UnsupportedConditionError extends GitenvError {}

const WHEN = /(^|,)\s*when\s*=\s*("([^"]*)"|'([^']*)')\s*(?=,|$)/;

/** The `when` condition of a spec and the spec without it; undefined for an unconditional spec. */
export function splitCondition(spec: string): { spec: string; condition: string } | undefined {
  const bracket = /^(.*?)\[(.*)\]\s*$/s.exec(spec);
  if (!bracket) return undefined;
  const m = WHEN.exec(bracket[2]);
  if (!m) return undefined;
  const rest = (bracket[2].slice(0, m.index) + (m[1] && m.index + m[0].length < bracket[2].length ? ',' : '') + bracket[2].slice(m.index + m[0].length)).replace(/^\s*,|,\s*$/g, '').trim();
  return { spec: rest ? `${bracket[1]}[${rest}]` : bracket[1].trim(), condition: m[3] ?? m[4] ?? '' };
}

function globMatch(glob: string, text: string): boolean {
  const re = new RegExp(
    `^${glob
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
  );
  return re.test(text);
}

function atomHolds(atom: string, virtuals: readonly VirtualPackage[], whole: string): boolean {
  const name = specName(atom);
  if (!name || !isVirtualPackage(name)) {
    throw new UnsupportedConditionError(`the condition "${whole}" depends on "${atom}", which is not a virtual package: the builtin solver decides conditions on virtual packages only`);
  }
  const v = virtuals.find((p) => p.name === name);
  if (!v) return false;
  const rest = atom.trim().slice(name.length).trim();
  if (!rest) return true;
  const normal = rest.replace(/\s*([,|])\s*/g, '$1').replace(/([<>=!~]=?)\s+/g, '$1');
  const [version, build] = normal.split(/\s+/);
  const spec = new VersionSpec(version.startsWith('=') && !version.startsWith('==') ? `${version.slice(1)}.*` : version, 'lenient');
  const ver = new Version(v.version);
  try {
    if (!spec.matches(ver)) return false;
  } finally {
    spec.free();
    ver.free();
  }
  return build === undefined || globMatch(build, v.build);
}

/** Whether a condition (atoms joined by `and`/`or`, `and` first) holds for these virtual packages. */
export function conditionHolds(condition: string, virtuals: readonly VirtualPackage[]): boolean {
  if (/[()]/.test(condition)) throw new UnsupportedConditionError(`the condition "${condition}" has parentheses, which the builtin solver does not read`);
  return condition.split(/\s+or\s+/i).some((clause) => clause.split(/\s+and\s+/i).every((atom) => atomHolds(atom, virtuals, condition)));
}

/** `specs` with each condition decided: kept without it when it holds, left out when not. */
export function applyConditions(specs: readonly string[], virtuals: readonly VirtualPackage[]): string[] {
  const out: string[] = [];
  for (const s of specs) {
    const split = splitCondition(s);
    if (!split) out.push(s);
    else if (conditionHolds(split.condition, virtuals)) out.push(split.spec);
  }
  return out;
}

/** Cheap test before the work: does any of these specs carry a condition? */
export function hasCondition(specs: readonly string[] | undefined): boolean {
  return !!specs?.some((s) => s.includes('when'));
}
