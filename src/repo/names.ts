/**
 * The naming rules of an environments repository (DESIGN.md § The environments repository):
 * which branch names are environments and which label names are allowed.
 */

/** The file whose presence at a branch's root makes the branch an environment. */
export const ENV_SPEC_FILE = 'env.spec';

/** Branches under this prefix hold resolved manifests, never environments. */
export const MANIFEST_PREFIX = 'manifest/';

/** Branches under this prefix are gitenv's own work branches (resolve's pull requests), never environments. */
export const WORK_PREFIX = 'gitenv/';

/** The label that is computed from the tags and never stored in `labels/`. */
export const LATEST_LABEL = 'latest';

const ENV_NAME = /^[A-Za-z0-9_.][A-Za-z0-9_.-]*$/;
/** A name ending like a tag's deployed name would make `env-<env>-<date>` ambiguous. */
const TAG_SUFFIX = /-\d{4}_\d{2}_\d{2}(?:-\d+)?$/;
const LABEL_NAME = /^[A-Za-z0-9_.-]+$/;

/**
 * The longest environment name: every ref and path gitenv makes from it must fit the 255 bytes a
 * path component may hold, the longest being the lock file git writes for a tag,
 * `env-<env>-YYYY_MM_DD-NNNN.lock` (a name that does not fit fails the one push of all tags).
 */
export const MAX_ENV_NAME = 200;
/** The longest label name a new label may have (its symlink's temporary name must fit too). */
export const MAX_LABEL_NAME = 100;

/** Why `name` cannot be an environment's name, or undefined when it can. */
export function envNameProblem(name: string): string | undefined {
  if (name === '') return 'the name is empty';
  if (name.includes('/')) return 'an environment name cannot contain "/"';
  if (name.length > MAX_ENV_NAME) return `an environment name is at most ${MAX_ENV_NAME} characters long (this one has ${name.length})`;
  if (!ENV_NAME.test(name)) {
    return 'an environment name is made of letters, digits, "_", "." and "-" and cannot start with "-"';
  }
  if (TAG_SUFFIX.test(name)) {
    return 'an environment name cannot end like a tag suffix (-YYYY_MM_DD or -YYYY_MM_DD-N)';
  }
  return undefined;
}

export function isEnvName(name: string): boolean {
  return envNameProblem(name) === undefined;
}

/** Why `name` cannot be a stored label, or undefined when it can. */
export function labelNameProblem(name: string): string | undefined {
  if (!LABEL_NAME.test(name)) return 'a label name is made of letters, digits, "_", "." and "-"';
  if (name === '.' || name === '..') return `"${name}" is not a label name`;
  if (name === LATEST_LABEL) return '"latest" is computed from the tags and cannot be set';
  return undefined;
}

/**
 * What a new label must also avoid: labels are symlinks beside the deployed prefixes, so no hidden
 * names and none shaped like a prefix's. (Label files already in a repository that break this are
 * refused by deploy, per environment, rather than dropped when the repository is read.)
 */
export function newLabelNameProblem(name: string): string | undefined {
  const problem = labelNameProblem(name);
  if (problem) return problem;
  if (name.length > MAX_LABEL_NAME) return `a label name is at most ${MAX_LABEL_NAME} characters long (this one has ${name.length})`;
  if (name.startsWith('.')) return `"${name}" starts with ".": label names are never hidden`;
  if (/^\d{4}_\d{2}_\d{2}(?:-\d+)?$/.test(name)) return `"${name}" is shaped like a deployed name (YYYY_MM_DD[-N]), which its symlink would stand beside`;
  return undefined;
}

/** The path of a label's file on the environment branch. */
export function labelPath(label: string): string {
  return `labels/${label}.txt`;
}

/** The manifest branch of an environment. */
export function manifestBranch(env: string): string {
  return MANIFEST_PREFIX + env;
}

/** The branch resolve's pull-request mode proposes an environment's next manifest on. */
export function updateBranch(env: string): string {
  return `${WORK_PREFIX}update/${env}`;
}
