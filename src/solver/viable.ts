/**
 * The records a solve can ever install. A record can be installed only if each of its dependencies
 * has an installable candidate; a record that fails a spec of env.spec never can. Both are decided
 * here, to a fixed point, before the WASM solver sees the repodata: what can never be part of an
 * answer is left out, so the solver neither parses it nor searches through it (with `python 3.11.*`
 * asked for, every build for another python goes, and with them whatever only they reached).
 *
 * Exactness: only records that no solution can contain are removed, and a record is removed only
 * when rattler's own version matching (the WASM `VersionSpec`, the parser the solver uses) says so.
 * Whatever is not read here with certainty counts as matching: build strings, bracket forms, bare
 * versions without an operator (whose meaning depends on the match-spec form), channel-qualified
 * names. When an env.spec spec is left without any candidate the result is undefined: the solver
 * then gets the records as before and explains the conflict in full.
 */
import { Version, VersionSpec } from '@conda-org/rattler';
import type { VirtualPackage } from '../conda/types.js';
import { specName } from '../conda/types.js';
import { isVirtualPackage } from '../conda/virtual-packages.js';

/** One record as this module sees it. */
export interface Candidate {
  name: string;
  version: string;
  /** Its dependencies as the solver will read them (conditions decided, prefix terms widened). */
  depends: readonly string[];
}

/**
 * Rattler's own version matching, remembered for a run: the environments of a run ask the same
 * questions of the same records. `free()` gives the WASM objects back.
 */
export class VersionMatcher {
  private readonly versions = new Map<string, Version | null>();
  private readonly specs = new Map<string, VersionSpec | null>();
  private readonly answers = new Map<string, Map<string, boolean>>();
  private readonly constraints = new Map<string, { name: string; version?: string }>();

  /** True unless rattler says for certain that `version` does not match `spec` (undefined: any). */
  mayMatch(spec: string | undefined, version: string): boolean {
    if (spec === undefined) return true;
    return this.mayMatchIn(this.answersOf(spec), spec, version);
  }

  /** The answers known for `spec`, by version: for asking `mayMatchIn` of many versions. */
  answersOf(spec: string): Map<string, boolean> {
    let byVersion = this.answers.get(spec);
    if (!byVersion) this.answers.set(spec, (byVersion = new Map<string, boolean>()));
    return byVersion;
  }

  /** `mayMatch` with the answers of `spec` at hand (`answersOf`). */
  mayMatchIn(byVersion: Map<string, boolean>, spec: string, version: string): boolean {
    let answer = byVersion.get(version);
    if (answer === undefined) {
      const s = this.specOf(spec);
      const v = this.versionOf(version);
      answer = s === null || v === null || s.matches(v);
      byVersion.set(version, answer);
    }
    return answer;
  }

  /** `dependencyConstraint`, remembered: the same object for the same spec. */
  constraint(spec: string): { name: string; version?: string } {
    let c = this.constraints.get(spec);
    if (!c) this.constraints.set(spec, (c = dependencyConstraint(spec)));
    return c;
  }

  free(): void {
    for (const v of this.versions.values()) v?.free();
    for (const s of this.specs.values()) s?.free();
    this.versions.clear();
    this.specs.clear();
    this.answers.clear();
  }

  private versionOf(text: string): Version | null {
    let v = this.versions.get(text);
    if (v === undefined) {
      try {
        v = new Version(text);
      } catch {
        v = null;
      }
      this.versions.set(text, v);
    }
    return v;
  }

  private specOf(text: string): VersionSpec | null {
    let s = this.specs.get(text);
    if (s === undefined) {
      try {
        s = new VersionSpec(text, 'lenient');
      } catch {
        s = null;
      }
      this.specs.set(text, s);
    }
    return s;
  }
}

/** A term of a version spec whose meaning is the same in every match-spec form. */
const TERM = /^(?:(?:>=|<=|>|<|==|!=|~=)\s*[0-9A-Za-z._+!-]+(?:\.\*)?|[0-9A-Za-z_+!-][0-9A-Za-z._+!-]*\.\*|\*)$/;

/**
 * The name and version spec of a dependency or spec, when its version part can be matched with
 * certainty; `version` undefined means "any record of the name".
 */
export function dependencyConstraint(spec: string): { name: string; version?: string } {
  const name = specName(spec);
  let rest = spec.trim();
  const colons = rest.lastIndexOf('::');
  if (colons >= 0) rest = rest.slice(colons + 2);
  rest = rest.slice(name.length).trim();
  if (rest === '' || rest.startsWith('[') || rest.includes('[') || rest.includes('(')) return { name };
  const tokens = rest.split(/\s+/);
  if (tokens.length > 2) return { name };
  const version = tokens[0];
  const terms = version.split(/[,|]/);
  if (terms.some((t) => !TERM.test(t))) return { name };
  return { name, version };
}

/** A dependency as the index reads it: one object per distinct spec string (compared by identity). */
type Constraint = { name: string; version?: string };

/** What `ViabilityIndex.prune` decides for one solve. */
export interface Viability<T> {
  /** The names reachable from the specs through viable records only. */
  names: Set<string>;
  /** The viable records of those names. */
  kept: Set<T>;
  /** How many records the reachable names have, and how many are kept. */
  before: number;
}

/**
 * Which records can ever be installed, for one set of records (the subdirs of a solve) and one set
 * of virtual packages. What does not depend on the specs (each record's dependencies, the records
 * that satisfy each dependency, which dependencies nothing satisfies) is worked out once and kept:
 * the environments of a run solved over the same subdirs only pay for what their specs change.
 */
export class ViabilityIndex<T extends Candidate> {
  private readonly depsOf = new Map<T, Constraint[]>();
  private readonly namesOf = new Map<string, Set<string>>();
  private readonly satisfiersOf = new Map<Constraint, T[]>();
  /** The dependencies each record satisfies, and the records that have each dependency. */
  private readonly supports = new Map<T, Constraint[]>();
  private readonly dependents = new Map<Constraint, T[]>();
  /** Per name, the records with a dependency nothing satisfies. */
  private readonly hopeless = new Map<string, T[]>();
  private readonly virtualsByName = new Map<string, T[]>();
  private readonly versionsOf = new Map<string, Map<string, T[]>>();

  /** `recordsOf(name)`: every record of a name, across the subdirs, the same array each time. */
  constructor(
    private readonly recordsOf: (name: string) => readonly T[],
    virtuals: readonly VirtualPackage[],
    private readonly matcher: VersionMatcher,
  ) {
    for (const v of virtuals) {
      const list = this.virtualsByName.get(v.name) ?? [];
      list.push({ name: v.name, version: v.version, depends: [] } as unknown as T);
      this.virtualsByName.set(v.name, list);
    }
  }

  /**
   * The names and records a solve of `specs` can use; undefined when a spec's name is a glob
   * (nothing may be pruned) or a spec is left without candidates (the solver is to explain why).
   */
  prune(specs: readonly string[]): Viability<T> | undefined {
    const roots = specs.map((s) => dependencyConstraint(s));
    if (roots.some((r) => r.name === '' || /[*?]/.test(r.name))) return undefined;
    // Every name the specs reach through any record.
    const reached = new Set<string>();
    const queue = roots.map((r) => r.name);
    while (queue.length > 0) {
      const name = queue.pop() as string;
      if (reached.has(name)) continue;
      reached.add(name);
      for (const dep of this.dependencyNames(name)) if (!reached.has(dep)) queue.push(dep);
    }
    // Dead from the start: records failing a spec, and records with a dependency nothing satisfies.
    const kill: T[] = [];
    for (const r of roots) {
      if (r.version === undefined || isVirtualPackage(r.name)) continue;
      for (const c of this.candidates(r.name)) if (!this.matcher.mayMatch(r.version, c.version)) kill.push(c);
    }
    for (const name of reached) kill.push(...(this.hopeless.get(name) ?? []));
    const dead = new Set<T>();
    const alive = new Map<Constraint, number>();
    while (kill.length > 0) {
      const record = kill.pop() as T;
      if (dead.has(record)) continue;
      dead.add(record);
      for (const c of this.supports.get(record) ?? []) {
        const left = (alive.get(c) ?? (this.satisfiersOf.get(c) as T[]).length) - 1;
        alive.set(c, left);
        if (left === 0) for (const d of this.dependents.get(c) ?? []) if (!dead.has(d)) kill.push(d);
      }
    }
    for (const r of roots) {
      if (!isVirtualPackage(r.name) && !this.candidates(r.name).some((c) => !dead.has(c))) return undefined;
    }
    // The names reachable through viable records only, and their viable records.
    const names = new Set<string>();
    const kept = new Set<T>();
    let before = 0;
    const walk = roots.map((r) => r.name).filter((n) => !isVirtualPackage(n));
    while (walk.length > 0) {
      const name = walk.pop() as string;
      if (names.has(name)) continue;
      names.add(name);
      const records = this.recordsOf(name);
      before += records.length;
      for (const record of records) {
        if (dead.has(record)) continue;
        kept.add(record);
        for (const d of this.constraints(record)) if (!names.has(d.name) && !isVirtualPackage(d.name)) walk.push(d.name);
      }
    }
    return { names, kept, before };
  }

  /** The candidates of a name: its records, and for a virtual package the solve's own. */
  private candidates(name: string): readonly T[] {
    if (!isVirtualPackage(name)) return this.recordsOf(name);
    const own = this.virtualsByName.get(name) ?? [];
    const records = this.recordsOf(name);
    return records.length === 0 ? own : [...own, ...records];
  }

  /** The names the records of `name` depend on; indexes those records on the first call. */
  private dependencyNames(name: string): Set<string> {
    let names = this.namesOf.get(name);
    if (names) return names;
    names = new Set();
    this.namesOf.set(name, names);
    for (const record of this.recordsOf(name)) {
      for (const c of this.constraints(record)) {
        names.add(c.name);
        let dependents = this.dependents.get(c);
        if (!dependents) this.dependents.set(c, (dependents = []));
        dependents.push(record);
        if (this.satisfiers(c).length === 0) {
          const list = this.hopeless.get(name) ?? [];
          if (list[list.length - 1] !== record) list.push(record);
          this.hopeless.set(name, list);
        }
      }
    }
    return names;
  }

  /** The candidates of a name grouped by version. */
  private byVersion(name: string): Map<string, T[]> {
    let groups = this.versionsOf.get(name);
    if (!groups) {
      groups = new Map();
      for (const r of this.candidates(name)) {
        const list = groups.get(r.version);
        if (list) list.push(r);
        else groups.set(r.version, [r]);
      }
      this.versionsOf.set(name, groups);
    }
    return groups;
  }

  private constraints(record: T): Constraint[] {
    let list = this.depsOf.get(record);
    if (!list) this.depsOf.set(record, (list = record.depends.map((d) => this.matcher.constraint(d))));
    return list;
  }

  private satisfiers(c: Constraint): T[] {
    let list = this.satisfiersOf.get(c);
    if (list) return list;
    if (c.version === undefined) list = [...this.candidates(c.name)];
    else {
      // Asked once per distinct version: the builds of a version share its answer.
      list = [];
      const spec = c.version;
      const answers = this.matcher.answersOf(spec);
      for (const [version, records] of this.byVersion(c.name)) if (this.matcher.mayMatchIn(answers, spec, version)) for (const r of records) list.push(r);
    }
    this.satisfiersOf.set(c, list);
    for (const r of list) {
      let sup = this.supports.get(r);
      if (!sup) this.supports.set(r, (sup = []));
      sup.push(c);
    }
    return list;
  }
}
