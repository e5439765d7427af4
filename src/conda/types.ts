/**
 * The conda records gitenv passes between its phases. Channel URLs here never carry credentials.
 */

/** One solved package: what env.manifest, env.lock and conda-meta need. */
export interface PackageRecord {
  name: string;
  version: string;
  build: string;
  buildNumber: number;
  /** The channel's subdir the package lives in (`linux-64`, `noarch`, ...). */
  subdir: string;
  /** Channel base URL, no trailing slash, no credentials (e.g. https://conda.anaconda.org/conda-forge). */
  channel: string;
  /** File name with its extension (`.conda` or `.tar.bz2`). */
  fn: string;
  /** Full download URL: `<channel>/<subdir>/<fn>`. */
  url: string;
  md5?: string;
  sha256?: string;
  size?: number;
  depends: string[];
  constrains: string[];
  noarch?: 'python' | 'generic';
  license?: string;
  timestamp?: number;
}

/** One line of an env.lock (or of an old-tool manifest looked up in repodata): what to install. */
export interface LockedPackage {
  /** Full download URL without credentials. */
  url: string;
  /** Channel base URL (the URL up to `/<subdir>/<fn>`). */
  channel: string;
  subdir: string;
  fn: string;
  /** `<name>-<version>-<build>`, from the file name. */
  dist: string;
  sha256?: string;
  md5?: string;
  size?: number;
  /**
   * The channel's record (repodata, with the channel's patches), when the deploy has it: conda-meta
   * takes `depends` and `constrains` from there rather than from the archive's own info/index.json.
   */
  record?: { depends?: string[]; constrains?: string[] };
}

/** A virtual package the solver treats as installed (`__glibc 2.28`). */
export interface VirtualPackage {
  name: string;
  version: string;
  build: string;
}

/** Strips `.conda` / `.tar.bz2` from a package file name. */
export function distName(fn: string): string {
  return fn.replace(/\.(conda|tar\.bz2)$/, '');
}
