/**
 * What resolve accepts from a channel's repodata before any of it reaches env.lock, env.manifest,
 * a commit message or a log line: names, versions, builds, subdirs and file names in conda's
 * grammar (no newline to forge a line, no `/` or `..` to move a path), and package URLs on the host
 * of the channel they came from (a repodata `info.base_url` may move them; to another host it would
 * take the packages, and at deploy the channel credentials, elsewhere).
 */
import { ConfigurationError } from '../util/errors.js';
import type { PackageRecord } from './types.js';

/** conda package names: letters, digits, `_`, `.`, `+`, `-`, not starting with `.` or `-`. */
const NAME = /^[A-Za-z0-9_+][A-Za-z0-9_.+-]*$/;
/** conda versions: no `-` (it separates name, version and build), no white space. */
const VERSION = /^[A-Za-z0-9_+!][A-Za-z0-9_.+!]*$/;
/** conda build strings. */
const BUILD = /^[A-Za-z0-9_+][A-Za-z0-9_.+]*$/;
/** `noarch` or `<platform>-<arch>` (linux-64, osx-arm64, emscripten-wasm32, zos-z). */
const SUBDIR = /^(?:noarch|[a-z0-9]+-[a-z0-9_]+)$/;

const show = (value: unknown): string => JSON.stringify(String(value)).slice(0, 120);

/** Why `record` cannot be written into a manifest, or undefined when it can. */
export function recordProblem(record: PackageRecord, channels: readonly string[]): string | undefined {
  const { name, version, build, subdir, fn, url } = record;
  if (typeof name !== 'string' || !NAME.test(name)) return `name ${show(name)} is not a conda package name`;
  if (typeof version !== 'string' || !VERSION.test(version)) return `version ${show(version)} of ${name} is not a conda version`;
  if (typeof build !== 'string' || !BUILD.test(build)) return `build ${show(build)} of ${name} is not a conda build string`;
  if (typeof subdir !== 'string' || !SUBDIR.test(subdir)) return `subdir ${show(subdir)} of ${name} is not a conda subdir`;
  const dist = `${name}-${version}-${build}`;
  if (fn !== `${dist}.conda` && fn !== `${dist}.tar.bz2`) return `file name ${show(fn)} is not ${dist}.conda or ${dist}.tar.bz2`;
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return `URL ${show(url)} of ${dist} is not a URL`;
  }
  if (!url.endsWith(`/${subdir}/${fn}`) || u.search || u.hash || u.username || u.password) {
    return `URL ${show(url)} of ${dist} is not <channel>/${subdir}/${fn}`;
  }
  const origin = (s: string): string => {
    const p = new URL(s);
    return `${p.protocol}//${p.host}`;
  };
  const own = channels.find((c) => url.startsWith(`${c.replace(/\/+$/, '')}/`)) ?? channels.find((c) => origin(c) === origin(url));
  if (!own) {
    return (
      `${dist} would be downloaded from ${origin(url)}, another host than its channel's ` + `(${channels.map(origin).join(', ')}): the channel's repodata moves it there with info.base_url; refused`
    );
  }
  return undefined;
}

/** Throws for the first record a manifest cannot hold, naming the environment and the record. */
export function checkRecords(records: readonly PackageRecord[], channels: readonly string[], env: string): void {
  for (const r of records) {
    const problem = recordProblem(r, channels);
    if (problem) throw new ConfigurationError(`environment "${env}": the solved package list is refused: ${problem}`);
  }
}
