/** The synthetic channel at full size (150,000+ records, about 30 s): too slow for the unit suite. */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { writeSyntheticChannel } from '../fixtures/channel/index.js';

test('writeSyntheticChannel writes 150,000+ records as linux-64 and noarch repodata.json', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'synthetic-'));
  try {
    const result = await writeSyntheticChannel(dir, 150_000);
    expect(result.count).toBeGreaterThanOrEqual(150_000);
    let total = 0;
    for (const subdir of ['linux-64', 'noarch']) {
      const r = JSON.parse(await readFile(path.join(dir, subdir, 'repodata.json'), 'utf8'));
      expect(r.info).toEqual({ subdir });
      total += Object.keys(r.packages).length + Object.keys(r['packages.conda']).length;
    }
    expect(total).toBe(result.count);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
