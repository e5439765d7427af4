/**
 * The environment package code runs in (post-link scripts, byte-compilation): never gitenv's or the
 * runner's, which hold GITENV_API_KEY, GITENV_TOKEN, INPUT_* and GITHUB_TOKEN. It gets what conda gives
 * a post-link script (PREFIX, ROOT_PREFIX, PKG_NAME, PKG_VERSION, PKG_BUILDNUM), the prefix activated
 * (CONDA_PREFIX, its bin/ first on PATH), PATH, and the few variables that describe the user and the
 * locale rather than a job: an allowlist, so a secret under a name nobody foresaw stays out too.
 */
import path from 'node:path';

/** Taken from the caller's environment as they are. */
const KEPT = new Set(['HOME', 'USER', 'LOGNAME', 'LANG', 'LANGUAGE', 'TZ', 'TMPDIR', 'TERM']);

/** The base of every package-code environment: PATH and the allowlisted variables of `from`. */
export function packageCodeEnv(from: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(from)) {
    if (value === undefined) continue;
    if (KEPT.has(name) || name.startsWith('LC_')) env[name] = value;
  }
  env.PATH = from.PATH ?? '/usr/local/bin:/usr/bin:/bin';
  return env;
}

/** `prefix` activated as `conda activate` does (for a POSIX shell, without conda itself). */
export function activatedEnv(prefix: string, from: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const env = packageCodeEnv(from);
  env.PATH = `${path.join(prefix, 'bin')}${path.delimiter}${env.PATH}`;
  env.CONDA_PREFIX = prefix;
  env.CONDA_DEFAULT_ENV = prefix;
  env.CONDA_SHLVL = '1';
  return env;
}
