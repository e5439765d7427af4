import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import path from 'node:path';
import { ParsedRepodata, RepodataSyntaxError, type RepodataRecordJson } from '../../src/solver/repodata-pruner.js';
import { scanRepodata } from '../../src/solver/repodata-scan.js';

const REAL = path.join(process.cwd(), 'tests', 'fixtures', 'real-repodata');

type Json = { info?: unknown; repodata_version?: unknown; packages?: Record<string, RepodataRecordJson>; 'packages.conda'?: Record<string, RepodataRecordJson> };

/** What the JSON.parse reading gave (the old ParsedRepodata): each name's records, in body order, packages first. */
function expected(json: Json): Map<string, { table: string; fn: string; record: RepodataRecordJson }[]> {
  const out = new Map<string, { table: string; fn: string; record: RepodataRecordJson }[]>();
  for (const table of ['packages', 'packages.conda'] as const) {
    for (const [fn, record] of Object.entries(json[table] ?? {})) {
      const name = String(record.name).toLowerCase();
      if (!out.has(name)) out.set(name, []);
      out.get(name)?.push({ table, fn, record });
    }
  }
  return out;
}

/** Each name's records as ParsedRepodata gives them (packages first, then packages.conda, as JSON.parse orders them). */
function actual(parsed: ParsedRepodata): Map<string, { table: string; fn: string; record: RepodataRecordJson }[]> {
  const out = new Map<string, { table: string; fn: string; record: RepodataRecordJson }[]>();
  for (const name of parsed.names()) {
    const list = parsed.entries(name).map(({ table, fn, record }) => ({ table, fn, record }));
    out.set(name, [...list.filter((e) => e.table === 'packages'), ...list.filter((e) => e.table === 'packages.conda')]);
  }
  return out;
}

/** The fields a record read from a body keeps (the solver's; `record(fn)` reads the whole record again). */
const SOLVER_FIELDS = ['name', 'version', 'build', 'build_number', 'depends', 'constrains', 'track_features', 'features', 'timestamp', 'noarch', 'subdir'];

function solverFields(records: Map<string, { table: string; fn: string; record: RepodataRecordJson }[]>): Map<string, { table: string; fn: string; record: RepodataRecordJson }[]> {
  const only = (r: RepodataRecordJson): RepodataRecordJson =>
    Object.fromEntries(SOLVER_FIELDS.filter((f) => f in r).map((f) => [f, (r as unknown as Record<string, unknown>)[f]])) as unknown as RepodataRecordJson;
  return new Map([...records].map(([name, list]) => [name, list.map((e) => ({ ...e, record: only(e.record) }))]));
}

function bytes(text: string): Buffer {
  return Buffer.from(text, 'utf8');
}

test('every real repodata fixture reads the same as JSON.parse: names, records, file names, info', async () => {
  const files: string[] = [];
  for (const channel of await fs.readdir(REAL)) {
    for (const subdir of ['linux-64', 'noarch']) {
      const file = path.join(REAL, channel, subdir, 'repodata.json');
      if (await fs.stat(file).catch(() => undefined)) files.push(file);
    }
  }
  expect(files.length).toBeGreaterThanOrEqual(8);
  let records = 0;
  for (const file of files) {
    const body = await fs.readFile(file);
    const json = JSON.parse(body.toString('utf8')) as Json;
    const parsed = ParsedRepodata.parse(body);
    const want = expected(json);
    expect([...parsed.names()].sort()).toEqual([...want.keys()].sort());
    expect(actual(parsed)).toEqual(solverFields(want));
    // The same from a repodata object (what shard-loader.ts makes of the shards it read).
    const fromObject = new ParsedRepodata(json as ConstructorParameters<typeof ParsedRepodata>[0]);
    expect(actual(fromObject)).toEqual(want);
    expect(Buffer.from(fromObject.pruned(new Set(fromObject.names()))).equals(Buffer.from(parsed.pruned(new Set(parsed.names()))))).toBe(true);
    for (const [, list] of want) {
      for (const { fn, record, table } of list) {
        if (table === 'packages.conda' || !json['packages.conda']?.[fn]) expect(parsed.record(fn)).toEqual(record);
        records++;
      }
    }
    const pruned = JSON.parse(Buffer.from(parsed.pruned(new Set(parsed.names()))).toString('utf8')) as Json;
    expect(pruned.info).toEqual(json.info);
    // The solver is served the fields it reads (repodata-pruner.ts), each as in the body.
    for (const table of ['packages', 'packages.conda'] as const) {
      expect(Object.keys(pruned[table] ?? {}).sort()).toEqual(Object.keys(json[table] ?? {}).sort());
      for (const [fn, record] of Object.entries(pruned[table] ?? {})) {
        const original = (json[table] ?? {})[fn] as unknown as Record<string, unknown>;
        expect(Object.keys(record)).toEqual(expect.arrayContaining(['name', 'version', 'build']));
        expect(record).toEqual(Object.fromEntries(Object.keys(record).map((k) => [k, original[k]])));
      }
    }
  }
  expect(records).toBeGreaterThan(100);
});

test('escapes, unicode, nested arrays and keys in any order are read as JSON.parse reads them', () => {
  const text = `\ufeff {
    "repodata_version" : 2,
    "packages.conda": {
      "we\\"ird-1-0.conda": { "depends": [["a", ["b\\\\"]], {"x": [1, -2.5e+3, true, false, null]}], "version": "1", "build": "0", "name": "we\\"ird" },
      "caf\\u00e9-1-0.conda": {"build":"0","version":"1","n\\u0061me":"Caf\\u00e9","note":"}{][\\\\\\"\\""},
      "snow-1-0.conda": {"name": "snow\u2603", "version": "1", "build": "0", "extra": {"nested": {"deep": ["]", "}"]}}}
    },
    "info": {"subdir": "linux-64", "odd": "\\u0000\\t\\n"},
    "removed": ["x"]
  }`;
  const json = JSON.parse(text.replace(/^\ufeff/, '')) as Json;
  const parsed = ParsedRepodata.parse(bytes(text));
  expect(actual(parsed)).toEqual(solverFields(expected(json)));
  expect([...parsed.names()]).toEqual(['we"ird', 'café', 'snow\u2603']);
  expect(parsed.record('caf\u00e9-1-0.conda')?.name).toBe('Caf\u00e9');
  expect(parsed.record('we"ird-1-0.conda')?.depends).toEqual([['a', ['b\\']], { x: [1, -2500, true, false, null] }]);
  expect(scanRepodata(bytes(text)).meta).toEqual({ repodata_version: 2, info: json.info, removed: ['x'] });
});

test('packages absent, null or empty: no records, and the other table still read', () => {
  expect([...ParsedRepodata.parse(bytes('{}')).names()]).toEqual([]);
  expect([...ParsedRepodata.parse(bytes('{"packages": null, "packages.conda": {}}')).names()]).toEqual([]);
  const only = ParsedRepodata.parse(bytes('{"packages.conda": {"a-1-0.conda": {"name": "a", "version": "1", "build": "0"}}}'));
  expect(only.entries('a').map((e) => e.fn)).toEqual(['a-1-0.conda']);
  expect(only.entries('b')).toEqual([]);
  expect(only.record('b-1-0.conda')).toBeUndefined();
});

test('a file name that does not start with its package name is still found; a file listed twice keeps its last record', () => {
  const parsed = ParsedRepodata.parse(
    bytes('{"packages":{"odd.tar.bz2":{"name":"a","version":"1","build":"0"},"a-2-0.tar.bz2":{"name":"a","version":"1","build":"x"},"a-2-0.tar.bz2":{"name":"a","version":"2","build":"0"}}}'),
  );
  expect(parsed.record('odd.tar.bz2')?.version).toBe('1');
  expect(parsed.entries('a').map((e) => [e.fn, e.record.version])).toEqual([
    ['odd.tar.bz2', '1'],
    ['a-2-0.tar.bz2', '2'],
  ]);
});

test.each([
  ['an empty body', '', /empty body at byte 0/],
  ['a body that is not an object', '[1, 2]', /expected '\{' \(a repodata.json is an object\) at byte 0/],
  ['a truncated body', '{"packages": {"a-1-0.tar.bz2": {"name": "a", "vers', /unterminated string at byte 45/],
  ['a truncated object', '{"packages": {"a-1-0.tar.bz2": {"name": "a"}', /unexpected end of data at byte 44/],
  ['a missing comma', '{"packages": {"a-1-0.tar.bz2": {"name": "a" "version": "1"}}}', /unexpected '"', expected ',' or '\}' at byte 44/],
  ['a record that is not an object', '{"packages": {"a-1-0.tar.bz2": ["a"]}}', /expected a record object at byte 31/],
  ['a bad literal', '{"packages": {}, "info": nul}', /unexpected '}' at byte 28/],
  ['a bad number', '{"repodata_version": 1.}', /in number at byte 23/],
  ['trailing garbage', '{"packages": {}} x', /after the end of the repodata object at byte 17/],
  ['a bad escape in a name', '{"packages": {"a-1-0.tar.bz2": {"name": "\\q"}}}', /invalid escape in string at byte 40/],
  ['nesting too deep', `{"info": ${'['.repeat(600)}${']'.repeat(600)}}`, /nested deeper than 512/],
])('%s is refused with the byte it goes wrong at', (_what, text, message) => {
  let err: unknown;
  try {
    ParsedRepodata.parse(bytes(text));
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(RepodataSyntaxError);
  expect((err as Error).message).toMatch(/^repodata is not valid JSON: /);
  expect((err as Error).message).toMatch(message);
});

test('a record is parsed only when its name is asked for, and once', () => {
  const parsed = ParsedRepodata.parse(bytes('{"packages":{"a-1-0.tar.bz2":{"name":"a","version":"1","build":"0"},"b-1-0.tar.bz2":{"name":"b","version":"1","build":"0","depends":["a"]}}}'));
  const first = parsed.entries('b');
  expect(parsed.entries('b')).toBe(first);
  expect([...parsed.dependencyNames('b')]).toEqual(['a']);
});

test('spilled: a body kept on disk (a file nobody sees) reads the same as one in memory; an owned buffer is freed; closed, no more reads', async () => {
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'gitenv-spill-'));
  try {
    const file = path.join(REAL, 'conda-index', 'linux-64', 'repodata.json');
    const body = await fs.readFile(file);
    const inMemory = ParsedRepodata.parse(body);
    const owned = Buffer.from(body);
    const spilled = ParsedRepodata.parse(owned, { spillDir: tmp, spillBytes: 1, owned: true });
    expect(await spilled.spilled).toBe(true);
    expect(await inMemory.spilled).toBe(false);
    // Unlinked as soon as it was opened; the owned buffer let go at once (detached).
    expect(await fs.readdir(tmp)).toEqual([]);
    expect(owned.length).toBe(0);
    expect(body.length).toBeGreaterThan(0);
    expect(actual(spilled)).toEqual(actual(inMemory));
    for (const name of [...inMemory.names()].slice(0, 50)) {
      for (const { fn } of inMemory.entries(name)) expect(spilled.record(fn)).toEqual(inMemory.record(fn));
    }
    const names = [...inMemory.names()];
    const later = ParsedRepodata.parse(Buffer.from(body), { spillDir: tmp, spillBytes: 1 });
    expect(await later.spilled).toBe(true);
    later.entries(names[0]);
    later.close();
    // What was read stays; a name not read yet cannot be read any more.
    expect(later.entries(names[0]).length).toBeGreaterThan(0);
    expect(() => later.entries(names[1])).toThrow(/closed/);
    // Below the size, or where nothing can be written: kept in memory, read as before.
    const small = ParsedRepodata.parse(body, { spillDir: tmp, spillBytes: body.length + 1 });
    const blocked = ParsedRepodata.parse(body, { spillDir: path.join(tmp, 'missing', 'dir'), spillBytes: 1 });
    expect([await small.spilled, await blocked.spilled]).toEqual([false, false]);
    expect(actual(blocked)).toEqual(actual(inMemory));
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
});
