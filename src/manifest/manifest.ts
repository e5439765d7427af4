/**
 * env.manifest: the seed tool's format, one package a line,
 * `<channel-url>/<subdir>` TAB `<name>-<version>-<build>`, sorted by the lower-cased dist name.
 */
import type { PackageRecord } from '../conda/types.js';
import { MANIFEST_FILE } from './files.js';
import { isVirtualPackage } from '../conda/virtual-packages.js';

/** One line of an env.manifest. */
export interface ManifestEntry {
  /** Channel base URL, no subdir, no trailing slash. */
  channel: string;
  subdir: string;
  name: string;
  version: string;
  build: string;
  /** `<name>-<version>-<build>`. */
  dist: string;
}

/** Splits `<name>-<version>-<build>` from the right (names may hold dashes, versions and builds may not). */
export function splitDist(dist: string): { name: string; version: string; build: string } {
  const b = dist.lastIndexOf('-');
  const v = b > 0 ? dist.lastIndexOf('-', b - 1) : -1;
  if (v <= 0) throw new Error(`"${dist}" is not a <name>-<version>-<build> dist name`);
  return { name: dist.slice(0, v), version: dist.slice(v + 1, b), build: dist.slice(b + 1) };
}

const byDist = (a: { dist: string }, b: { dist: string }): number => {
  const x = a.dist.toLowerCase();
  const y = b.dist.toLowerCase();
  return x < y ? -1 : x > y ? 1 : 0;
};

/** The manifest entry of a solved record. */
export function manifestEntry(r: PackageRecord): ManifestEntry {
  return {
    channel: r.channel.replace(/\/+$/, ''),
    subdir: r.subdir,
    name: r.name,
    version: r.version,
    build: r.build,
    dist: `${r.name}-${r.version}-${r.build}`,
  };
}

/** Formats env.manifest from solved records (virtual packages left out), ending in a newline. */
export function formatManifest(records: readonly PackageRecord[]): string {
  const entries = records.filter((r) => !isVirtualPackage(r.name)).map(manifestEntry);
  return formatManifestEntries(entries);
}

export function formatManifestEntries(entries: readonly ManifestEntry[]): string {
  const lines = [...entries].sort(byDist).map((e) => `${e.channel}/${e.subdir}\t${e.dist}`);
  return lines.length === 0 ? '' : lines.join('\n') + '\n';
}

/**
 * Parses an env.manifest, also the old tool's variants: runs of spaces instead of the tab and a
 * trailing `/` on the channel URL. Blank lines and `#` comments are skipped.
 */
export function parseManifest(text: string, file = MANIFEST_FILE): ManifestEntry[] {
  const entries: ManifestEntry[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const m = /^(\S+)\s+(\S+)$/.exec(line);
    if (!m) throw new Error(`${file}:${i + 1}: expected "<channel-url>/<subdir> <name>-<version>-<build>", got "${line}"`);
    const url = m[1].replace(/\/+$/, '');
    const cut = url.lastIndexOf('/');
    if (cut <= 0) throw new Error(`${file}:${i + 1}: "${m[1]}" is not a <channel-url>/<subdir>`);
    let parts;
    try {
      parts = splitDist(m[2]);
    } catch (err) {
      throw new Error(`${file}:${i + 1}: ${(err as Error).message}`);
    }
    entries.push({ channel: url.slice(0, cut), subdir: url.slice(cut + 1), dist: m[2], ...parts });
  });
  return entries;
}
