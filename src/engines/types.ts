import type { LockedPackage, PackageRecord, VirtualPackage } from '../conda/types.js';
import type { FetchLike } from '../net/fetch-like.js';
import type { StreamFetch } from '../net/stream-fetch.js';
import type { Logger } from '../util/logger.js';

/** The engines that resolve and deploy can use. */
export type Engine = 'builtin' | 'micromamba';

/** HTTP basic auth for the channels of an env.spec (never written anywhere). */
export interface ChannelCredentials {
  apiUser?: string;
  apiKey?: string;
}

export interface SolveRequest {
  /** Match specs from env.spec, in order. */
  specs: string[];
  /** Channel base URLs in priority order (already expanded, no credentials). */
  channels: string[];
  platform: string;
  virtualPackages: VirtualPackage[];
  env: string;
  logger: Logger;
}

/** Resolves specs into records (dependencies included, virtual packages excluded). */
export interface SolverEngine {
  solve(request: SolveRequest): Promise<PackageRecord[]>;
  /** Solves worth running at once (default 1). */
  readonly concurrency?: number;
  /** Gets ready to solve (starts a thread) while the caller does other work. */
  warm?(): void;
  /** Releases what the engine holds (threads). */
  close?(): Promise<void>;
}

export interface InstallRequest {
  /** Packages in dependency order (dependencies first), as env.lock lists them. */
  packages: LockedPackage[];
  /** The prefix's final path: what prefix placeholders are replaced with. */
  prefix: string;
  /** Where the prefix is built (a hidden staging directory beside `prefix`); renamed by the caller. */
  stagingDir: string;
  /** The shared package cache. */
  pkgCache: string;
  /** Specs the user asked for (conda-meta `requested_spec`, history). */
  requestedSpecs?: string[];
  /** `<mirror>/<last path segment of the channel>` replaces each channel base URL when set. */
  mirror?: string;
  concurrency?: number;
  /** HTTP access with channel credentials applied (default: the global fetch). */
  fetch?: FetchLike;
  /**
   * Package downloads over http(s) without fetch's WHATWG streams, with the same credentials as
   * `fetch` (FetchWrapper.stream). Default: net/stream-fetch.ts's when no `fetch` is given, else `fetch`.
   */
  streamFetch?: StreamFetch;
  /**
   * Hosts (`host[:port]`) that may get the channel credentials: those of env.spec's channels and the
   * mirror. Undefined: every channel of the packages (callers that trust their package list).
   */
  trustedHosts?: string[];
  logger: Logger;
  /**
   * Leave post-link scripts for `InstallReport.runPostLink`, which the caller calls once the prefix
   * stands at its final path (conda gives scripts `PREFIX` = that path, and so does deploy). An engine
   * that cannot defer them (micromamba runs them itself) ignores this and returns no runPostLink.
   */
  deferPostLink?: boolean;
  /**
   * The packages are for another platform than this machine's (deploy's explicit `platform`
   * override): the prefix is built for machines that share the file system, and nothing of it is
   * run here (no post-link scripts, no byte-compiling).
   */
  foreignPlatform?: string;
}

export interface InstallReport {
  /** Packages installed. */
  packages: number;
  /** Bytes downloaded (0 when the cache had everything). */
  downloadedBytes: number;
  /** Packages taken from the package cache. */
  cacheHits: number;
  /** With `deferPostLink`: runs the post-link scripts in `prefix` (the final path); how many ran. */
  runPostLink?: () => Promise<number>;
  /** What the user should read, for the job summary: clobbered paths, post-link scripts' messages. */
  notices?: string[];
  /**
   * Every entry the install made in the staging directory is readable (and searchable, where
   * executable) by anyone already: a world-readable deploy need not walk the tree to set modes.
   * Only the builtin installer knows it (from the package cache's entries and the umask).
   */
  readableByAnyone?: boolean;
  /** The bytes the conda-meta records' paths_data add up to, when the installer wrote them itself. */
  sizeBytes?: number;
}

/** Builds a complete conda prefix in `stagingDir` that is correct once moved to `prefix`. */
export interface InstallerEngine {
  install(request: InstallRequest): Promise<InstallReport>;
}
