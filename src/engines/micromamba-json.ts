/**
 * micromamba's `create --dry-run --json` answer turned into gitenv's PackageRecords.
 *
 * The shape (mamba 2.x, libmamba `MTransaction::log_json` and `specs::PackageInfo` `to_json`):
 * `{"actions": {"FETCH": [...], "LINK": [...], "PREFIX": "..."}, "dry_run": true, "prefix": "...",
 * "success": true}`, each LINK entry with name, version, build, build_string, build_number, channel,
 * subdir, fn, url, md5, sha256, size, timestamp, license, track_features, depends, constrains and,
 * for noarch packages, noarch. An unsolvable request gives `"success": false` and `solver_problems`.
 * `channel` is micromamba's display name (`conda-forge`, or a URL), and `url` carries credentials
 * when a channel had them, so the channel is taken from `url` and matched back to the requested one.
 */
import type { PackageRecord } from '../conda/types.js';
import { isVirtualPackage } from '../conda/virtual-packages.js';
import { PackageError } from '../util/errors.js';
import { withoutCredentials } from '../util/secrets.js';

export interface DryRunAnswer {
  success?: boolean;
  dry_run?: boolean;
  prefix?: string;
  message?: string;
  solver_problems?: unknown[];
  actions?: { LINK?: LinkEntry[]; FETCH?: LinkEntry[]; UNLINK?: LinkEntry[]; PREFIX?: string };
}

/** One entry of `actions.LINK` (only what gitenv reads). */
export interface LinkEntry {
  name?: string;
  version?: string;
  build?: string;
  build_string?: string;
  build_number?: number;
  channel?: string;
  subdir?: string;
  fn?: string;
  url?: string;
  md5?: string;
  sha256?: string;
  size?: number;
  license?: string;
  noarch?: string;
  depends?: string[] | null;
  constrains?: string[] | null;
}

/** Parses micromamba's stdout; tolerates log lines printed before the JSON object. */
export function parseDryRunOutput(stdout: string): DryRunAnswer | undefined {
  const start = stdout.indexOf('{');
  const end = stdout.lastIndexOf('}');
  if (start < 0 || end < start) return undefined;
  try {
    return JSON.parse(stdout.slice(start, end + 1)) as DryRunAnswer;
  } catch {
    return undefined;
  }
}

/** The solver's explanation when the request cannot be solved (empty when it could). */
export function solverProblems(answer: DryRunAnswer): string[] {
  const problems = answer.solver_problems ?? [];
  return problems.map((p) => (typeof p === 'string' ? p : JSON.stringify(p)));
}

/** The packages micromamba would link, as records sorted by name (virtual packages left out). */
export function linkRecords(answer: DryRunAnswer, channels: readonly string[]): PackageRecord[] {
  const link = answer.actions?.LINK ?? [];
  return link
    .filter((e) => !isVirtualPackage(e.name ?? ''))
    .map((e) => toRecord(e, channels))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export function toRecord(entry: LinkEntry, channels: readonly string[]): PackageRecord {
  const name = entry.name ?? '(unnamed)';
  if (!entry.name || !entry.version || !entry.url || !entry.subdir) {
    throw new PackageError(name, 'micromamba listed it without name, version, url or subdir (micromamba 2.x is required)');
  }
  const url = withoutCredentials(entry.url);
  const fn = entry.fn || url.slice(url.lastIndexOf('/') + 1);
  const suffix = `/${entry.subdir}/${fn}`;
  if (!url.endsWith(suffix)) {
    throw new PackageError(name, `its url ${url} does not end in ${suffix}`);
  }
  const channel = requestedChannel(url.slice(0, -suffix.length), channels);
  const record: PackageRecord = {
    name: entry.name,
    version: entry.version,
    build: entry.build_string ?? entry.build ?? '',
    buildNumber: entry.build_number ?? 0,
    subdir: entry.subdir,
    channel,
    fn,
    url: `${channel}/${entry.subdir}/${fn}`,
    depends: entry.depends ?? [],
    constrains: entry.constrains ?? [],
  };
  if (entry.md5) record.md5 = entry.md5;
  if (entry.sha256) record.sha256 = entry.sha256;
  if (entry.size) record.size = entry.size;
  if (entry.noarch === 'python' || entry.noarch === 'generic') record.noarch = entry.noarch;
  if (entry.license) record.license = entry.license;
  return record;
}

/** The requested channel URL that `base` names (spelling as the user gave it), else `base` itself. */
export function requestedChannel(base: string, channels: readonly string[]): string {
  const key = comparable(base);
  const match = channels.find((c) => comparable(c) === key);
  return (match ?? base).replace(/\/+$/, '');
}

function comparable(url: string): string {
  const clean = withoutCredentials(url).replace(/\/+$/, '');
  try {
    return decodeURI(new URL(clean).href).replace(/\/+$/, '');
  } catch {
    return clean;
  }
}
