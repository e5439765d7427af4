import fs from 'node:fs';
import path from 'node:path';
import { specName, type LockedPackage } from '../conda/types.js';
import { redactUrls } from '../util/secrets.js';
import type { Digest } from './download.js';
import type { LinkedPackage, LinkedPath } from './link.js';
import { VERSION } from '../version.js';

/** Everything conda-meta/<dist>.json is made from. */
export interface MetaInput {
  pkg: LockedPackage;
  linked: LinkedPackage;
  digest: Digest;
  /** Extra paths created after linking (compiled .pyc files). */
  extraPaths?: LinkedPath[];
  requestedSpec?: string;
}

/** The conda-meta record `conda list` and `micromamba list` read. No credentials: URLs are redacted. */
export function prefixRecord(input: MetaInput): Record<string, unknown> {
  const { pkg, linked, digest } = input;
  const index = linked.unit.info.index;
  const paths = [...linked.paths.filter((p) => p.path_type !== 'directory'), ...(input.extraPaths ?? [])].sort((a, b) => (a._path < b._path ? -1 : a._path > b._path ? 1 : 0));
  const record: Record<string, unknown> = {
    ...index,
    name: index.name,
    version: index.version,
    build: index.build,
    build_number: index.build_number ?? 0,
    channel: redactUrls(pkg.channel),
    url: redactUrls(pkg.url),
    fn: pkg.fn,
    md5: digest.md5,
    sha256: digest.sha256,
    size: digest.size,
    // The channel's record when the deploy has it (its patches fix what the archive says), as conda and rattler do.
    depends: pkg.record?.depends ?? index.depends ?? [],
    constrains: pkg.record?.constrains ?? index.constrains ?? [],
    subdir: index.subdir ?? pkg.subdir,
    files: paths.map((p) => p._path),
    paths_data: { paths_version: 1, paths },
    link: { source: linked.unit.dir, type: linked.linkType },
    // No package_tarball_full_path: the cache keeps no archive (as rattler, which writes none either).
    extracted_package_dir: linked.unit.dir,
  };
  // conda reads requested_spec; newer conda and rattler read the list.
  if (input.requestedSpec) {
    record.requested_spec = input.requestedSpec;
    record.requested_specs = [input.requestedSpec];
  }
  return record;
}

/** The file name conda gives a package's record. */
export function recordFileName(index: { name: string; version: string; build: string }): string {
  const name = `${index.name}-${index.version}-${index.build}.json`;
  // index.json was checked against the lock (package-info.ts); this is the last line of defence.
  if (/[/\\\0]/.test(name)) throw new Error(`refused to write the conda-meta record ${JSON.stringify(name)}: not a plain file name`);
  return name;
}

/** The spec among `specs` that names `name` (`numpy >=2` names numpy), if any. */
export function requestedSpecFor(name: string, specs: readonly string[] = []): string | undefined {
  return specs.find((s) => specName(s) === name.toLowerCase());
}

/** One conda-meta/history revision: what conda writes after `conda create`. */
export function historyEntry(packages: LockedPackage[], specs: readonly string[], when: Date, cmd: string): string {
  const stamp = when
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, '');
  const lines = [`==> ${stamp} <==`, `# cmd: ${cmd}`, `# gitenv version: ${VERSION}`];
  for (const p of packages) lines.push(`+${redactUrls(p.channel)}/${p.subdir}::${p.dist}`);
  if (specs.length > 0) lines.push(`# update specs: ${JSON.stringify([...specs])}`);
  return lines.join('\n') + '\n';
}

/**
 * Writes every record and the history into `<stagingDir>/conda-meta/`: a real directory of the
 * staging prefix (the linker installs nothing a package ships there), each file a new one (whatever
 * stood at its path is removed first, never written into). Gives the bytes the records' paths_data
 * add up to: the prefix's size as deploy reports it (layout.ts condaMetaSize reads the same back).
 * Written in synchronous calls: a few files each made in one step, where the thread pool's round
 * trips (several per file) took longer than the writing.
 */
export async function writeCondaMeta(stagingDir: string, inputs: MetaInput[], history: string): Promise<number> {
  const dir = path.join(stagingDir, 'conda-meta');
  fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
  if (!fs.lstatSync(dir).isDirectory()) throw new Error(`${dir} is not a directory`);
  let bytes = 0;
  for (const input of inputs) {
    const record = prefixRecord(input);
    for (const p of (record.paths_data as { paths: LinkedPath[] }).paths) bytes += p.size_in_bytes ?? 0;
    writeNewFile(path.join(dir, recordFileName(input.linked.unit.info.index)), JSON.stringify(record, null, 2) + '\n');
    // The event loop gets its turn between records (a signal, a timer), as the links give it.
    await new Promise((resolve) => setImmediate(resolve));
  }
  writeNewFile(path.join(dir, 'history'), history);
  return bytes;
}

/** A new file at `file`: what stood there (a link into the package cache, say) is removed, not written into. */
function writeNewFile(file: string, data: string): void {
  fs.rmSync(file, { force: true });
  fs.writeFileSync(file, data, { flag: 'wx', mode: 0o644 });
}
