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

/** One record in the index (or one of the solve's virtual packages). */
interface Node<T> {
  readonly id: number;
  readonly item: T;
  /** Its dependencies, each as the index knows it (once the record's name is indexed). */
  deps?: Dep[];
  /** The dependencies it satisfies: the head of its list in `Links` (-1: none). */
  supports: number;
  /** The prune it was found dead in. */
  dead: number;
}

/** A dependency (one per distinct spec string) as one index knows it. */
interface Dep {
  readonly id: number;
  readonly constraint: Constraint;
  /** How many candidates satisfy it (-1: not counted yet). */
  satisfiers: number;
  /** The records that have it: the head of their list in `Links` (-1: none). */
  dependents: number;
  /** Satisfiers still alive in the prune `epoch`. */
  alive: number;
  epoch: number;
}

/**
 * Lists of numbers, all in two typed arrays: a conda-forge-sized run indexes 400,000 records and
 * 1.5 million (dependency, satisfier) pairs, which as arrays and maps of objects cost several
 * times as much memory.
 */
class Links {
  /** The value at each place, and the place after it in its list (-1: the end). */
  values = new Int32Array(1024);
  next = new Int32Array(1024);
  private size = 0;

  /** Adds `value` in front of the list at `head`; returns the new head. */
  push(head: number, value: number): number {
    if (this.size === this.values.length) {
      const values = new Int32Array(this.size * 2);
      values.set(this.values);
      this.values = values;
      const next = new Int32Array(this.size * 2);
      next.set(this.next);
      this.next = next;
    }
    this.values[this.size] = value;
    this.next[this.size] = head;
    return this.size++;
  }
}

/**
 * Which records can ever be installed, for one set of records (the subdirs of a solve) and one set
 * of virtual packages. What does not depend on the specs (each record's dependencies, the records
 * that satisfy each dependency, which dependencies nothing satisfies) is worked out once and kept:
 * the environments of a run solved over the same subdirs only pay for what their specs change.
 */
export class ViabilityIndex<T extends Candidate> {
  /** The nodes of each name's records (recordsOf), and of a virtual package's candidates. */
  private readonly nodesOf = new Map<string, Node<T>[]>();
  private readonly candidatesOf = new Map<string, Node<T>[]>();
  private readonly nodes: Node<T>[] = [];
  private readonly depOf = new Map<Constraint, Dep>();
  private readonly deps: Dep[] = [];
  private readonly links = new Links();
  private readonly namesOf = new Map<string, Set<string>>();
  /** Per name, the records with a dependency nothing satisfies. */
  private readonly hopeless = new Map<string, Node<T>[]>();
  private readonly virtualsByName = new Map<string, Node<T>[]>();
  private epoch = 0;

  /** `recordsOf(name)`: every record of a name, across the subdirs, the same array each time. */
  constructor(
    private readonly recordsOf: (name: string) => readonly T[],
    virtuals: readonly VirtualPackage[],
    private readonly matcher: VersionMatcher,
  ) {
    for (const v of virtuals) {
      const list = this.virtualsByName.get(v.name) ?? [];
      list.push(this.node({ name: v.name, version: v.version, depends: [] } as unknown as T));
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
    const epoch = ++this.epoch;
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
    const kill: Node<T>[] = [];
    for (const r of roots) {
      if (r.version === undefined || isVirtualPackage(r.name)) continue;
      for (const c of this.candidates(r.name)) if (!this.matcher.mayMatch(r.version, c.item.version)) kill.push(c);
    }
    for (const name of reached) kill.push(...(this.hopeless.get(name) ?? []));
    while (kill.length > 0) {
      const node = kill.pop() as Node<T>;
      if (node.dead === epoch) continue;
      node.dead = epoch;
      const { values, next } = this.links;
      for (let at = node.supports; at >= 0; at = next[at]) {
        const dep = this.deps[values[at]];
        if (dep.epoch !== epoch) {
          dep.epoch = epoch;
          dep.alive = dep.satisfiers;
        }
        if (--dep.alive === 0) {
          for (let d = dep.dependents; d >= 0; d = next[d]) {
            const dependent = this.nodes[values[d]];
            if (dependent.dead !== epoch) kill.push(dependent);
          }
        }
      }
    }
    for (const r of roots) {
      if (!isVirtualPackage(r.name) && !this.candidates(r.name).some((c) => c.dead !== epoch)) return undefined;
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
      const nodes = this.recordNodes(name);
      before += nodes.length;
      for (const node of nodes) {
        if (node.dead === epoch) continue;
        kept.add(node.item);
        for (const d of this.depsOf(node)) if (!names.has(d.constraint.name) && !isVirtualPackage(d.constraint.name)) walk.push(d.constraint.name);
      }
    }
    return { names, kept, before };
  }

  private node(item: T): Node<T> {
    const node: Node<T> = { id: this.nodes.length, item, deps: undefined, supports: -1, dead: 0 };
    this.nodes.push(node);
    return node;
  }

  /** The nodes of a name's records (recordsOf), made on first use. */
  private recordNodes(name: string): Node<T>[] {
    let nodes = this.nodesOf.get(name);
    if (!nodes) this.nodesOf.set(name, (nodes = this.recordsOf(name).map((r) => this.node(r))));
    return nodes;
  }

  /** The candidates of a name: its records, and for a virtual package the solve's own. */
  private candidates(name: string): Node<T>[] {
    if (!isVirtualPackage(name)) return this.recordNodes(name);
    let list = this.candidatesOf.get(name);
    if (!list) {
      const own = this.virtualsByName.get(name) ?? [];
      const records = this.recordNodes(name);
      this.candidatesOf.set(name, (list = records.length === 0 ? own : [...own, ...records]));
    }
    return list;
  }

  /** The names the records of `name` depend on; indexes those records on the first call. */
  private dependencyNames(name: string): Set<string> {
    let names = this.namesOf.get(name);
    if (names) return names;
    names = new Set();
    this.namesOf.set(name, names);
    for (const node of this.recordNodes(name)) {
      for (const dep of this.depsOf(node)) {
        names.add(dep.constraint.name);
        dep.dependents = this.links.push(dep.dependents, node.id);
        if (this.satisfiers(dep) === 0) {
          const list = this.hopeless.get(name) ?? [];
          if (list[list.length - 1] !== node) list.push(node);
          this.hopeless.set(name, list);
        }
      }
    }
    return names;
  }

  private depsOf(node: Node<T>): Dep[] {
    node.deps ??= node.item.depends.map((d) => this.dep(this.matcher.constraint(d)));
    return node.deps;
  }

  private dep(constraint: Constraint): Dep {
    let dep = this.depOf.get(constraint);
    if (!dep) {
      dep = { id: this.deps.length, constraint, satisfiers: -1, dependents: -1, alive: 0, epoch: 0 };
      this.deps.push(dep);
      this.depOf.set(constraint, dep);
    }
    return dep;
  }

  /** How many candidates satisfy `dep`; counted (and each satisfier told) on the first call. */
  private satisfiers(dep: Dep): number {
    if (dep.satisfiers >= 0) return dep.satisfiers;
    let count = 0;
    const spec = dep.constraint.version;
    const answers = spec === undefined ? undefined : this.matcher.answersOf(spec);
    for (const node of this.candidates(dep.constraint.name)) {
      if (spec !== undefined && !this.matcher.mayMatchIn(answers as Map<string, boolean>, spec, node.item.version)) continue;
      count++;
      node.supports = this.links.push(node.supports, dep.id);
    }
    dep.satisfiers = count;
    return count;
  }
}
