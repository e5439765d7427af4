/**
 * The runtime's floor for bench/install.ts's cold install: what Node itself takes for the same bytes,
 * doing only what no installer can skip, and none of what makes gitenv's installer one to trust.
 *
 *   node <bundle> <request.json>   # {packages, prefix, cache}; prints {seconds, cpuSeconds, maxRssKb}
 *
 * Two threads (the machine's cores) take the packages in turn. Each downloads its archive whole
 * into memory (node:http, one connection each), hashes it and compares the hash with the lock,
 * decompresses each member in one call (Node's zstd; `bzip2 -dc` for a `.tar.bz2`), walks the tar
 * and writes every file into the cache directory with one synchronous call, then hard links each
 * into the prefix (a file carrying the placeholder is written with it replaced, as text).
 *
 * Left out, on purpose: every check (paths, links, modes, sizes, each file against paths.json),
 * streaming (an archive is held whole), the archive kept in the cache, locks and markers, retries,
 * proxies and credentials, noarch python, post-link scripts, byte-compiling, conda-meta. Not an
 * installer: a measure of what is left for one to spend.
 *
 * `warm: true` in the request: the warm install's floor, from the cache a cold run of this floor
 * filled. This thread alone (a thread costs about 50 ms to start: as much as py-rattler's whole warm
 * install) reads each package's paths.json and links its files into the prefix, one call each, a
 * file carrying the placeholder read, rewritten and written (not hashed).
 */
import fs from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';

interface Request {
  packages: { url: string; fn: string; sha256?: string }[];
  prefix: string;
  cache: string;
  warm?: boolean;
}

/** A thread's work (CommonJS, evaluated): packages taken from a shared counter until none is left. */
const THREAD = String.raw`
const { workerData, parentPort } = require('node:worker_threads');
const fs = require('node:fs');
const path = require('node:path');
const http = require('node:http');
const zlib = require('node:zlib');
const crypto = require('node:crypto');
const { execFileSync } = require('node:child_process');
const { packages, prefix, cache, next } = workerData;
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const made = new Set();
const mkdirp = (d) => { if (!made.has(d)) { fs.mkdirSync(d, { recursive: true }); made.add(d); } };
const cstr = (b, from, to) => { const s = b.toString('utf8', from, to); const z = s.indexOf('\0'); return z < 0 ? s : s.slice(0, z); };

function download(url) {
  return new Promise((resolve, reject) => {
    http.get(url, { agent }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(url + ': HTTP ' + res.statusCode));
      const hash = crypto.createHash('sha256');
      const parts = [];
      res.on('data', (c) => { hash.update(c); parts.push(c); });
      res.on('end', () => resolve({ data: Buffer.concat(parts), sha256: hash.digest('hex') }));
      res.on('error', reject);
    }).on('error', reject);
  });
}

/** The tar's entries written under dir; [path, type, link target] of each. */
function untar(buf, dir, entries) {
  let at = 0;
  let long;
  while (at + 512 <= buf.length && buf[at] !== 0) {
    const h = buf.subarray(at, at + 512);
    const size = parseInt(cstr(h, 124, 136).trim() || '0', 8);
    const type = h[156] === 0 ? '0' : String.fromCharCode(h[156]);
    const mode = parseInt(cstr(h, 100, 108).trim() || '644', 8) & 0o777;
    const body = buf.subarray(at + 512, at + 512 + size);
    at += 512 + Math.ceil(size / 512) * 512;
    if (type === 'L') { long = cstr(body, 0, body.length); continue; }
    if (type === 'x') { const m = /\d+ path=([^\n]*)\n/.exec(body.toString('utf8')); if (m) long = m[1]; continue; }
    if (type === 'g') continue;
    const prefixField = cstr(h, 345, 500);
    const name = long ?? (prefixField ? prefixField + '/' + cstr(h, 0, 100) : cstr(h, 0, 100));
    long = undefined;
    const abs = path.join(dir, name);
    if (type === '5') { mkdirp(abs); continue; }
    mkdirp(path.dirname(abs));
    const link = cstr(h, 157, 257);
    if (type === '2') fs.symlinkSync(link, abs);
    else if (type === '1') fs.linkSync(path.join(dir, link), abs);
    else fs.writeFileSync(abs, body, { mode });
    entries.push([name, type, link]);
  }
}

/** A .conda's members: [name, bytes] from its central directory (stored, as conda writes them). */
function members(zip) {
  let end = zip.length - 22;
  while (zip.readUInt32LE(end) !== 0x06054b50) end--;
  const out = [];
  let at = zip.readUInt32LE(end + 16);
  for (let n = zip.readUInt16LE(end + 10); n > 0; n--) {
    const size = zip.readUInt32LE(at + 20);
    const nameLength = zip.readUInt16LE(at + 28);
    const local = zip.readUInt32LE(at + 42);
    const name = zip.toString('utf8', at + 46, at + 46 + nameLength);
    at += 46 + nameLength + zip.readUInt16LE(at + 30) + zip.readUInt16LE(at + 32);
    const data = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
    out.push([name, zip.subarray(data, data + size)]);
  }
  return out;
}

function install(pkg, data) {
  const dir = path.join(cache, pkg.fn.replace(/\.(conda|tar\.bz2)$/, ''));
  const entries = [];
  if (pkg.fn.endsWith('.conda')) {
    for (const [name, bytes] of members(data)) if (name.endsWith('.tar.zst')) untar(zlib.zstdDecompressSync(bytes), dir, entries);
  } else {
    untar(execFileSync('bzip2', ['-dc'], { input: data, maxBuffer: 1 << 30 }), dir, entries);
  }
  const placeholders = new Map();
  try {
    for (const p of JSON.parse(fs.readFileSync(path.join(dir, 'info', 'paths.json'), 'utf8')).paths) if (p.prefix_placeholder) placeholders.set(p._path, p.prefix_placeholder);
  } catch {}
  for (const [name, type, link] of entries) {
    if (name.startsWith('info/')) continue;
    const to = path.join(prefix, name);
    mkdirp(path.dirname(to));
    if (type === '2') fs.symlinkSync(link, to);
    else if (placeholders.has(name)) fs.writeFileSync(to, fs.readFileSync(path.join(dir, name), 'latin1').replaceAll(placeholders.get(name), prefix), 'latin1');
    else fs.linkSync(path.join(dir, name), to);
  }
}

(async () => {
  for (let i = Atomics.add(next, 0, 1); i < packages.length; i = Atomics.add(next, 0, 1)) {
    const pkg = packages[i];
    const { data, sha256 } = await download(pkg.url);
    if (pkg.sha256 && sha256 !== pkg.sha256) throw new Error(pkg.fn + ': sha256 differs from the lock');
    install(pkg, data);
  }
  agent.destroy();
})().then(() => parentPort.postMessage('done'), (err) => parentPort.postMessage('failed: ' + (err && err.stack)));
`;

async function main(requestFile: string): Promise<void> {
  const started = process.hrtime.bigint();
  const cpu = process.cpuUsage();
  const request = JSON.parse(fs.readFileSync(requestFile, 'utf8')) as Request;
  fs.mkdirSync(request.prefix, { recursive: true });
  if (request.warm) linkAll(request);
  else await extractAll(request);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const used = process.cpuUsage(cpu);
  const hwm = /VmHWM:\s+(\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
  process.stdout.write(JSON.stringify({ seconds, cpuSeconds: (used.user + used.system) / 1e6, maxRssKb: hwm ? Number(hwm[1]) : 0 }) + '\n');
}

/** The cold floor: the threads above. */
async function extractAll(request: Request): Promise<void> {
  const next = new Int32Array(new SharedArrayBuffer(4));
  const threads = Math.max(1, Math.min(Number(process.env.BENCH_FLOOR_THREADS ?? 2), request.packages.length));
  await Promise.all(
    Array.from(
      { length: threads },
      () =>
        new Promise<void>((resolve, reject) => {
          const worker = new Worker(THREAD, { eval: true, workerData: { ...request, next } });
          worker.once('message', (msg: string) => (msg === 'done' ? resolve() : reject(new Error(msg))));
          worker.once('error', reject);
        }),
    ),
  );
}

/** The warm floor: every package's files linked from the cache into the prefix, in this thread. */
function linkAll(request: Request): void {
  const made = new Set<string>();
  const mkdirp = (d: string): void => {
    if (!made.has(d)) {
      fs.mkdirSync(d, { recursive: true });
      made.add(d);
    }
  };
  for (const pkg of request.packages) {
    const dir = path.join(request.cache, pkg.fn.replace(/\.(conda|tar\.bz2)$/, ''));
    const { paths } = JSON.parse(fs.readFileSync(path.join(dir, 'info', 'paths.json'), 'utf8')) as { paths: { _path: string; path_type: string; prefix_placeholder?: string }[] };
    for (const p of paths) {
      const from = path.join(dir, p._path);
      const to = path.join(request.prefix, p._path);
      if (p.path_type === 'directory') {
        mkdirp(to);
        continue;
      }
      mkdirp(path.dirname(to));
      if (p.path_type === 'softlink') fs.symlinkSync(fs.readlinkSync(from), to);
      else if (p.prefix_placeholder) fs.writeFileSync(to, fs.readFileSync(from, 'latin1').replaceAll(p.prefix_placeholder, request.prefix), 'latin1');
      else fs.linkSync(from, to);
    }
  }
}

await main(process.argv[2]);
