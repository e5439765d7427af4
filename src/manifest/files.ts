/** The files resolve writes on `manifest/<env>` (beside a copy of env.spec) and deploy reads from a tag. */
export const MANIFEST_FILE = 'env.manifest';
export const LOCK_FILE = 'env.lock';
