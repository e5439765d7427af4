import { Minimatch } from 'minimatch';

/** True when `name` matches any of the globs (`*` alone matches everything, `/` included). */
export function matchesAny(name: string, globs: readonly string[]): boolean {
  return globMatcher(globs)(name);
}

/** matchesAny's test for `globs`, each compiled once (for many names). */
export function globMatcher(globs: readonly string[]): (name: string) => boolean {
  if (globs.length === 0 || globs.includes('*')) return () => true;
  const matchers = globs.map((g) => new Minimatch(g, { dot: true }));
  return (name) => matchers.some((m) => m.match(name));
}

/** Splits an action input or CLI value holding globs separated by new lines, commas or spaces. */
export function splitList(value: string | undefined): string[] {
  if (!value) return [];
  return value
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}
