/**
 * Tags made by the old tool carry an env.manifest but no env.lock: `<channel>/<subdir> <dist>` lines
 * without file names, hashes or order. Deploy turns them into what an env.lock gives by looking each
 * dist up in its channel's repodata (then, if missing there, in the tag's env.spec channels), and
 * orders them dependencies first, as an installer expects.
 */
import { mirroredChannel } from '../conda/mirror.js';
import type { LockedPackage } from '../conda/types.js';
import type { FetchLike } from '../net/fetch-like.js';
import { dependencyOrder } from './lock.js';
import type { ManifestEntry } from './manifest.js';
import { HttpError, PackageError } from '../util/errors.js';

interface RepodataRecord {
  name: string;
  depends?: string[];
  constrains?: string[];
  sha256?: string;
  md5?: string;
  size?: number;
}

interface Repodata {
  packages?: Record<string, RepodataRecord>;
  'packages.conda'?: Record<string, RepodataRecord>;
}

export interface OldManifestOptions {
  fetch: FetchLike;
  /** Channel base URLs of the tag's env.spec (expanded), tried when a line's own channel lacks the dist. */
  specChannels?: string[];
  /** `<mirror>/<last path segment of the channel>` is read instead of each channel when set. */
  mirror?: string;
}

type Found = LockedPackage & { name: string; depends: string[] };

/** The packages of an old-tool manifest, with URLs, hashes and sizes, dependencies first. */
export async function lockFromManifest(entries: readonly ManifestEntry[], options: OldManifestOptions): Promise<LockedPackage[]> {
  const repodata = new ChannelRepodata(options.fetch, options.mirror);
  const found: Found[] = [];
  for (const entry of entries) {
    const channels = [entry.channel, ...(options.specChannels ?? []).filter((c) => c !== entry.channel)];
    let hit: Found | undefined;
    for (const channel of channels) {
      hit = await lookUp(repodata, channel, entry.subdir, entry.dist);
      if (hit) break;
    }
    if (!hit) {
      throw new PackageError(entry.name, `${entry.dist} is no longer available in ${entry.channel}/${entry.subdir}` + (channels.length > 1 ? ` nor in the channels of env.spec` : ''));
    }
    found.push(hit);
  }
  return dependencyOrder(found).map(({ name: _n, depends: _d, ...pkg }) => pkg);
}

async function lookUp(repodata: ChannelRepodata, channel: string, subdir: string, dist: string): Promise<Found | undefined> {
  const data = await repodata.get(channel, subdir);
  // The old tool installed .tar.bz2 files; prefer them so the same bytes are deployed.
  for (const [key, ext] of [
    ['packages', '.tar.bz2'],
    ['packages.conda', '.conda'],
  ] as const) {
    const fn = dist + ext;
    const record = data[key]?.[fn];
    if (!record) continue;
    const pkg: Found = {
      url: `${channel}/${subdir}/${fn}`,
      channel,
      subdir,
      fn,
      dist,
      name: record.name,
      depends: record.depends ?? [],
      // The channel's record, patches included: what conda-meta is to say (conda and rattler write it).
      record: { depends: record.depends ?? [], constrains: record.constrains ?? [] },
    };
    if (record.sha256) pkg.sha256 = record.sha256;
    if (record.md5) pkg.md5 = record.md5;
    if (record.size !== undefined) pkg.size = record.size;
    return pkg;
  }
  return undefined;
}

/** Fetches each `<channel>/<subdir>/repodata.json` once per deploy. */
class ChannelRepodata {
  private readonly cache = new Map<string, Promise<Repodata>>();
  constructor(
    private readonly fetch: FetchLike,
    private readonly mirror?: string,
  ) {}

  get(channel: string, subdir: string): Promise<Repodata> {
    const base = this.mirror ? mirroredChannel(channel, this.mirror) : channel;
    const url = `${base}/${subdir}/repodata.json`;
    let p = this.cache.get(url);
    if (!p) {
      p = this.load(url);
      this.cache.set(url, p);
    }
    return p;
  }

  private async load(url: string): Promise<Repodata> {
    const res = await this.fetch(url);
    if (res.status === 404) return {};
    if (!res.ok) throw new HttpError(url, res.status, `${url}: HTTP ${res.status} while reading repodata`);
    return (await res.json()) as Repodata;
  }
}
