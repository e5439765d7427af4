// actions/setup through `npx local-action` with its .env.example: micromamba's download URL points at
// a loopback server (a mirror, as the .env.example says), the tool cache at a temporary directory.
import { createHash } from 'node:crypto';
import { readFile, mkdtemp, rm, stat } from 'node:fs/promises';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { localAction, writeEnvFile } from './local-action-support.js';

const VERSION = '2.3.3-0';
/** A stand-in executable that answers like micromamba. */
const STAND_IN = Buffer.from('#!/bin/sh\necho 2.3.3\n');

describe('setup under npx local-action', () => {
  let tmp: string;
  let server: http.Server;
  let base: string;
  const requests: string[] = [];

  beforeAll(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'gitenv-local-setup-'));
    server = http.createServer((req, res) => {
      requests.push(req.url ?? '');
      if (req.url?.startsWith(`/mirror/${VERSION}/micromamba-`)) {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': STAND_IN.length });
        res.end(STAND_IN);
      } else {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise((resolve) => server?.close(resolve));
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  test('downloads micromamba once into the tool cache, verifies it, and finds it there the second time', async () => {
    const toolCache = path.join(tmp, 'tool cache');
    const envFile = await writeEnvFile('setup', tmp, {
      RUNNER_TOOL_CACHE: toolCache,
      RUNNER_TEMP: path.join(tmp, 'runner temp'),
      GITHUB_STEP_SUMMARY: path.join(tmp, 'setup-summary.md'),
      'INPUT_MICROMAMBA-VERSION': VERSION,
      'INPUT_MICROMAMBA-URL': `${base}/mirror/{version}/micromamba-{platform}`,
      'INPUT_MICROMAMBA-SHA256': createHash('sha256').update(STAND_IN).digest('hex'),
    });

    const first = await localAction('setup', envFile);
    expect(first.errors).toEqual([]);
    expect(first.outputs.version).toBe(VERSION);
    const exe = first.outputs['micromamba-path'];
    expect(exe.startsWith(path.join(toolCache, 'micromamba', VERSION) + path.sep)).toBe(true);
    expect(await readFile(exe)).toEqual(STAND_IN);
    expect((await stat(exe)).mode & 0o111).not.toBe(0);
    expect(requests).toHaveLength(1);

    const second = await localAction('setup', envFile);
    expect(second.errors).toEqual([]);
    expect(second.outputs['micromamba-path']).toBe(exe);
    expect(requests).toHaveLength(1);
  });
});
