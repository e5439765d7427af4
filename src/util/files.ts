/**
 * File rules used in several places, each in one home: content hashes, and "rename aside, then
 * replace" for directories that readers may hold open.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import path from 'node:path';

/** The hex sha256 of bytes or text. */
export function sha256Hex(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** The hex sha256 of a file, read as a stream. */
export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Renames `dir` to a hidden name beside it, `<trashPrefix><name>-<random>` (atomic); returns that path. */
export async function moveAside(dir: string, trashPrefix: string): Promise<string> {
  const trash = path.join(path.dirname(dir), `${trashPrefix}${path.basename(dir)}-${randomBytes(4).toString('hex')}`);
  await fs.rename(dir, trash);
  return trash;
}

/**
 * Puts the directory `from` at `to` by rename. A directory already standing at `to` is kept when
 * `keepExisting` says so (`from` is then removed), else it is renamed aside first (rename is atomic,
 * rm is not; readers that hold its files open keep them) and removed once `from` is in place.
 */
export async function renameReplacing(from: string, to: string, trashPrefix: string, keepExisting?: (dir: string) => Promise<boolean>): Promise<'renamed' | 'replaced' | 'kept'> {
  try {
    await fs.rename(from, to);
    return 'renamed';
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
  }
  if (keepExisting && (await keepExisting(to))) {
    await fs.rm(from, { recursive: true, force: true });
    return 'kept';
  }
  const trash = await moveAside(to, trashPrefix);
  await fs.rename(from, to);
  await fs.rm(trash, { recursive: true, force: true });
  return 'replaced';
}
