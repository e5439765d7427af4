/** The synthetic benchmark repodata: big, reproducible, well-formed and satisfiable. */
import { Version } from '@conda-org/rattler';
import { generateSyntheticRepodata, syntheticSpecs, type RepodataRecord, type SyntheticRepodata } from '../fixtures/channel/index.js';

function allRecords(s: SyntheticRepodata): [string, RepodataRecord][] {
  return Object.values(s.repodata).flatMap((r) => [...Object.entries(r.packages), ...Object.entries(r['packages.conda'])]);
}

/** `>=a` and `>=a,<b` only: the forms the generator writes. */
function satisfies(version: string, range: string): boolean {
  const v = new Version(version);
  return range.split(',').every((part) => {
    const m = /^(>=|<)(.+)$/.exec(part);
    if (!m) throw new Error(`unexpected range ${part}`);
    const cmp = v.compare(new Version(m[2]));
    return m[1] === '>=' ? cmp >= 0 : cmp < 0;
  });
}

describe('generateSyntheticRepodata', () => {
  const small = generateSyntheticRepodata(4_000, { seed: 7 });

  test('gives at least n records, the same ones for the same seed, others for another seed', () => {
    expect(small.count).toBeGreaterThanOrEqual(4_000);
    expect(allRecords(small)).toHaveLength(small.count);
    expect(JSON.stringify(generateSyntheticRepodata(4_000, { seed: 7 }).repodata)).toBe(JSON.stringify(small.repodata));
    expect(generateSyntheticRepodata(4_000, { seed: 8 }).names.slice(10, 20)).not.toEqual(small.names.slice(10, 20));
  });

  test('records are well formed, file names match them, subdirs hold what they should', () => {
    const bad = allRecords(small).filter(
      ([fn, r]) =>
        fn !== `${r.name}-${r.version}-${r.build}.${fn.endsWith('.conda') ? 'conda' : 'tar.bz2'}` ||
        !/^[0-9a-f]{64}$/.test(r.sha256) ||
        !/^[0-9a-f]{32}$/.test(r.md5) ||
        !(r.size > 0) ||
        (r.subdir === 'noarch') !== (r.noarch === 'python'),
    );
    expect(bad).toEqual([]);
    expect(Object.keys(small.repodata.noarch['packages.conda']).length).toBeGreaterThan(0);
    expect(Object.keys(small.repodata['linux-64'].packages).length).toBeGreaterThan(100);
  });

  test('every dependency names an earlier package and its newest version satisfies the range', () => {
    const versions = new Map<string, Set<string>>();
    for (const [, r] of allRecords(small)) versions.set(r.name, (versions.get(r.name) ?? new Set()).add(r.version));
    const newest = new Map([...versions].map(([name, vs]) => [name, [...vs].sort((a, b) => new Version(a).compare(new Version(b))).at(-1)!]));
    const order = new Map(small.names.map((n, i) => [n, i]));
    const failures: string[] = [];
    for (const [fn, r] of allRecords(small)) {
      for (const dep of r.depends) {
        const [name, range] = dep.split(' ');
        if (name.startsWith('__')) continue;
        if (!versions.has(name) || order.get(name)! >= order.get(r.name)!) failures.push(`${fn}: ${dep} is not an earlier package`);
        else if (range && name !== 'python' && name !== 'libgcc-ng' && !satisfies(newest.get(name)!, range)) failures.push(`${fn}: ${dep} misses ${newest.get(name)}`);
      }
    }
    expect(failures).toEqual([]);
  });

  test('syntheticSpecs picks distinct existing names behind a python pin', () => {
    const specs = syntheticSpecs(small, 20, 3);
    expect(specs).toHaveLength(20);
    expect(specs[0]).toBe('python 3.11.*');
    expect(new Set(specs).size).toBe(20);
    for (const s of specs.slice(1)) expect(small.names).toContain(s);
  });
});
