import { minimatch } from 'minimatch';

/** True when `name` matches any of the globs (`*` alone matches everything, `/` included). */
export function matchesAny(name: string, globs: readonly string[]): boolean {
  if (globs.length === 0) return true;
  return globs.some((g) => g === '*' || minimatch(name, g, { dot: true }));
}

/** Splits an action input or CLI value holding globs separated by new lines, commas or spaces. */
export function splitList(value: string | undefined): string[] {
  if (!value) return [];
  return value
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}
