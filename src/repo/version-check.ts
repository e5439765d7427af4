import { VersionSpec } from '@conda-org/rattler';

/**
 * A version spec as the solver reads it (rattler's lenient parser); throws an Error whose message
 * says what is wrong with it. The VersionCheck of match-spec.ts for whatever solves or resolves.
 */
export function checkVersionSpec(version: string): void {
  let parsed: VersionSpec | undefined;
  try {
    parsed = new VersionSpec(version, 'lenient');
  } catch (err) {
    const why = String(err instanceof Error ? err.message : err)
      .split('\n')[0]
      .replace(/^\d+: /, '');
    throw new Error(`"${version}" is not a version spec${why ? ` (${why})` : ''}`);
  } finally {
    parsed?.free();
  }
}
