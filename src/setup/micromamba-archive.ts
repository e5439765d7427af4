/**
 * What a micromamba download is: the bare executable (micromamba-releases) or a tar archive
 * (micro.mamba.pm's `latest`, conda-forge's package) holding `bin/micromamba`. Told apart by the
 * first bytes, since mirrors and `latest` URLs often have no telling extension.
 */
import { open } from 'node:fs/promises';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tc from '@actions/tool-cache';
import { ConfigurationError } from '../util/errors.js';

export type DownloadKind = 'executable' | 'tar.bz2' | 'tar.gz';

/** Reads the magic bytes: `BZh` is bzip2, 1f 8b is gzip, anything else is taken as the executable. */
export async function downloadKind(file: string): Promise<DownloadKind> {
  const handle = await open(file, 'r');
  try {
    const head = Buffer.alloc(3);
    const { bytesRead } = await handle.read(head, 0, 3, 0);
    if (bytesRead >= 3 && head.toString('latin1') === 'BZh') return 'tar.bz2';
    if (bytesRead >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'tar.gz';
    return 'executable';
  } finally {
    await handle.close();
  }
}

/** Where an archive may keep the executable: conda's unix layout, conda's Windows layout, the top. */
const CANDIDATES = ['bin/micromamba', 'Library/bin/micromamba.exe', 'micromamba', 'micromamba.exe'];

/** Extracts the archive and returns the path of the micromamba executable inside it. */
export async function extractMicromamba(archive: string, kind: Exclude<DownloadKind, 'executable'>, dest: string): Promise<string> {
  const dir = await tc.extractTar(archive, dest, kind === 'tar.bz2' ? 'xj' : 'xz');
  for (const candidate of CANDIDATES) {
    const file = path.join(dir, ...candidate.split('/'));
    if (fs.existsSync(file) && fs.statSync(file).isFile()) return file;
  }
  throw new ConfigurationError(`The downloaded archive holds no micromamba executable (looked for ${CANDIDATES.join(', ')}); check input micromamba-url`);
}
