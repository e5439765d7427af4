/**
 * The fixture builder's own encoders, checked with the real tools: `bzip2`, `zstd`, Python's tarfile
 * and zipfile, `unzip`, plus the decoders gitenv itself ships (unbzip2-stream, fzstd).
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { decompress as fzstdDecompress } from 'fzstd';
import unbzip2 from 'unbzip2-stream';
import { bzip2Compress, writeTar, writeZip, zstdCompress, zstdFromSegments, zstdRepeatedByte } from '../fixtures/channel/index.js';

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'channel-codecs-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

async function file(name: string, data: Uint8Array): Promise<string> {
  const p = path.join(tmp, name);
  await writeFile(p, data);
  return p;
}

function python(script: string, ...args: string[]): string {
  return execFileSync('python3', ['-c', script, ...args], { encoding: 'utf8' });
}

/** unbzip2-stream is an old-style through stream: collect its 'data' events. */
function viaUnbzip2(data: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const out = Readable.from([data]).pipe(unbzip2());
    out.on('data', (chunk: Buffer) => chunks.push(chunk));
    out.on('error', reject);
    out.on('end', () => resolve(Buffer.concat(chunks)));
  });
}

const samples: Record<string, () => Buffer> = {
  empty: () => Buffer.alloc(0),
  'one byte': () => Buffer.from('x'),
  text: () => Buffer.from('#!/bin/sh\necho "hello"\n'.repeat(50)),
  'long runs': () => Buffer.concat([Buffer.alloc(3000, 0), Buffer.from('abc'), Buffer.alloc(257, 7), Buffer.alloc(4, 9)]),
  periodic: () => Buffer.from('ab'.repeat(20_000)),
  // Over 700 kB: more than one bzip2 block.
  'two blocks': () => Buffer.concat([randomBytes(200_000), Buffer.from('conda '.repeat(120_000))]),
};

describe('bzip2Compress', () => {
  test.each(Object.keys(samples))('%s: bzip2 -d, Python bz2 and unbzip2-stream give the input back', async (name) => {
    const input = samples[name]();
    const compressed = bzip2Compress(input);
    const p = await file(`${name.replace(/ /g, '-')}.bz2`, compressed);
    expect(execFileSync('bzip2', ['-dc', p]).equals(input)).toBe(true);
    const viaPython = python('import bz2,sys,hashlib; print(hashlib.sha256(bz2.open(sys.argv[1]).read()).hexdigest())', p).trim();
    expect(viaPython).toBe(createHash('sha256').update(input).digest('hex'));
    expect((await viaUnbzip2(compressed)).equals(input)).toBe(true);
  });

  test('compresses what repeats', () => {
    expect(bzip2Compress(Buffer.from('conda '.repeat(10_000))).length).toBeLessThan(2_000);
  });
});

describe('zstdCompress', () => {
  test.each(Object.keys(samples))('%s: zstd -d and fzstd give the input back', async (name) => {
    const input = samples[name]();
    const compressed = zstdCompress(input);
    const p = await file(`${name.replace(/ /g, '-')}.zst`, compressed);
    expect(execFileSync('zstd', ['-dc', p]).equals(input)).toBe(true);
    expect(Buffer.from(fzstdDecompress(compressed)).equals(input)).toBe(true);
  });

  test('a repeated-byte frame is tiny and decodes to its full size', async () => {
    const frame = zstdRepeatedByte(0x41, 3 * 1024 * 1024 + 5);
    expect(frame.length).toBeLessThan(200);
    const p = await file('bomb.zst', frame);
    const out = execFileSync('zstd', ['-dc', p], { maxBuffer: 8 * 1024 * 1024 });
    expect(out.length).toBe(3 * 1024 * 1024 + 5);
    expect(out.every((b) => b === 0x41)).toBe(true);
  });
});

test('zstdFromSegments: literal and repeated segments decode in order', async () => {
  const literal = Buffer.from('header bytes\n');
  const tail = randomBytes(200_000);
  const frame = zstdFromSegments([literal, { byte: 0x7a, size: 300_000 }, tail]);
  const expected = Buffer.concat([literal, Buffer.alloc(300_000, 0x7a), tail]);
  expect(execFileSync('zstd', ['-dc', await file('segments.zst', frame)]).equals(expected)).toBe(true);
  expect(Buffer.from(fzstdDecompress(frame)).equals(expected)).toBe(true);
});

describe('writeTar', () => {
  test('Python tarfile reads every kind of entry exactly as written, hostile ones included', async () => {
    const longPath = `lib/${'d'.repeat(90)}/${'e'.repeat(90)}/${'f'.repeat(120)}.txt`;
    const tar = writeTar([
      { path: 'bin/tool', data: '#!/bin/sh\n', mode: 0o755 },
      { path: longPath, data: 'long' },
      { path: 'bin/tool-link', type: 'symlink', linkpath: 'tool' },
      { path: 'bin/tool-hard', type: 'hardlink', linkpath: 'bin/tool' },
      { path: 'share/empty', type: 'directory' },
      { path: '../escape.txt', data: 'out' },
      { path: '/etc/absolute.txt', data: 'abs' },
      { path: 'lib/out', type: 'symlink', linkpath: '../../../etc/passwd' },
      { path: 'dev/null', type: 'char', devmajor: 1, devminor: 3 },
      { path: 'bin/suid', data: 'x', mode: 0o4755 },
      { path: 'lib/far-link', type: 'symlink', linkpath: `/${'z'.repeat(150)}` },
    ]);
    const p = await file('all.tar', tar);
    const listing = JSON.parse(
      python('import json,sys,tarfile\n' + 't=tarfile.open(sys.argv[1])\n' + 'print(json.dumps([[m.name,m.type.decode(),m.mode,m.linkname,m.size,m.devmajor,m.devminor] for m in t.getmembers()]))', p),
    ) as [string, string, number, string, number, number, number][];
    expect(listing).toEqual([
      ['bin/tool', '0', 0o755, '', 10, 0, 0],
      [longPath, '0', 0o644, '', 4, 0, 0],
      ['bin/tool-link', '2', 0o777, 'tool', 0, 0, 0],
      ['bin/tool-hard', '1', 0o644, 'bin/tool', 0, 0, 0],
      ['share/empty', '5', 0o755, '', 0, 0, 0],
      ['../escape.txt', '0', 0o644, '', 3, 0, 0],
      ['/etc/absolute.txt', '0', 0o644, '', 3, 0, 0],
      ['lib/out', '2', 0o777, '../../../etc/passwd', 0, 0, 0],
      ['dev/null', '3', 0o644, '', 0, 1, 3],
      ['bin/suid', '0', 0o4755, '', 1, 0, 0],
      ['lib/far-link', '2', 0o777, `/${'z'.repeat(150)}`, 0, 0, 0],
    ]);
    // GNU tar agrees on the names (it would refuse to extract the hostile ones).
    const names = execFileSync('tar', ['-tf', p], { encoding: 'utf8' }).trim().split('\n');
    expect(names).toContain(longPath);
    expect(names).toContain('../escape.txt');
  });

  test('is byte for byte reproducible', () => {
    const entries = [
      { path: 'a', data: 'a' },
      { path: 'b', type: 'symlink' as const, linkpath: 'a' },
    ];
    expect(writeTar(entries).equals(writeTar(entries))).toBe(true);
  });
});

describe('writeZip', () => {
  test('unzip and Python zipfile read stored and deflated entries', async () => {
    const big = Buffer.alloc(100_000, 0x30);
    const p = await file(
      'x.zip',
      writeZip([
        { name: 'metadata.json', data: Buffer.from('{"conda_pkg_format_version": 2}') },
        { name: 'deflated.bin', data: big, deflate: true },
      ]),
    );
    expect(execFileSync('unzip', ['-tq', p], { encoding: 'utf8' })).toMatch(/No errors detected/);
    const info = JSON.parse(python('import json,sys,zipfile\nz=zipfile.ZipFile(sys.argv[1])\nprint(json.dumps([[i.filename,i.compress_type,i.file_size,len(z.read(i))] for i in z.infolist()]))', p));
    expect(info).toEqual([
      ['metadata.json', 0, 31, 31],
      ['deflated.bin', 8, 100_000, 100_000],
    ]);
  });
});
