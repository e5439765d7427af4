/**
 * The reference installer accepts what the builder makes: py-rattler solves the walk-through
 * environments from the seed channel served over loopback HTTP, installs them (both archive formats,
 * text and binary placeholders), and the installed environments run.
 */
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { buildSeedChannel, serveChannel, type ChannelServer } from '../fixtures/channel/index.js';
import { describeWithTool, runs } from '../fixtures/tools.js';

const RATTLER_SCRIPT = `
import asyncio, json, os, sys
import rattler
from rattler import Channel, GenericVirtualPackage, PackageName, Platform, Version
from rattler.package.build_string import BuildString

async def main(url, prefix, cache, specs):
    glibc = GenericVirtualPackage(PackageName("__glibc"), Version("2.28"), BuildString("0"))
    records = await rattler.solve(sources=[Channel(url)], specs=specs, platforms=[Platform("linux-64"), Platform("noarch")], virtual_packages=[glibc])
    await rattler.install(records, target_prefix=prefix, cache_dir=cache)
    print(json.dumps(sorted(f"{r.name.normalized}-{r.version}-{r.build}" for r in records)))

asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]))
# py-rattler's threads can crash the interpreter while it finalizes; what was asked is done by now
sys.stdout.flush()
os._exit(0)
`;

const maybe = describeWithTool('py-rattler', runs('python3', ['-c', 'import rattler']));

maybe('py-rattler installs from the served seed channel', () => {
  let tmp: string;
  let server: ChannelServer;
  beforeAll(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'channel-rattler-'));
    await buildSeedChannel(path.join(tmp, 'srv', 'seed'));
    server = await serveChannel(path.join(tmp, 'srv'));
  });
  afterAll(async () => {
    await server.close();
    await rm(tmp, { recursive: true, force: true });
  });

  // Asynchronous: the server answering py-rattler runs on this process's event loop.
  const install = async (prefix: string, specs: string[]) => {
    const { stdout } = await promisify(execFile)('python3', ['-c', RATTLER_SCRIPT, `${server.url}/seed`, prefix, path.join(tmp, 'cache'), ...specs], { timeout: 120_000 });
    return JSON.parse(stdout) as string[];
  };

  test('default: python 3 + numpy + pyhello', async () => {
    const prefix = path.join(tmp, 'envs', 'default');
    expect(await install(prefix, ['python', 'numpy', 'pyhello'])).toEqual(['numpy-1.26.4-py311_0', 'openssl-1.1.1w-0', 'pyhello-1.0.0-py_0', 'python-3.11.4-0', 'zlib-1.2.13-0']);
    expect(execFileSync(path.join(prefix, 'bin/pyhello'), { encoding: 'utf8' })).toBe('hello from pyhello 1.0.0\n');
    expect(execFileSync(path.join(prefix, 'bin/python'), ['-c', 'import numpy; print(numpy.__version__)'], { encoding: 'utf8' })).toBe('1.26.4\n');
    expect(await readFile(path.join(prefix, 'ssl/openssl.cnf'), 'utf8')).toBe(`# fixture\ndir = ${prefix}/ssl\n`);
    const libcrypto = await readFile(path.join(prefix, 'lib/libcrypto.so.1.1'));
    expect(libcrypto.includes(Buffer.from(`OPENSSLDIR: "${prefix}/ssl"\0`))).toBe(true);
    expect(server.requests.some((r) => r.path === '/seed/linux-64/python-3.11.4-0.conda' && r.status === 200)).toBe(true);
  });

  test('legacy: python 2.* + numpy, from .tar.bz2 archives', async () => {
    const prefix = path.join(tmp, 'envs', 'legacy');
    expect(await install(prefix, ['python 2.*', 'numpy'])).toEqual(['numpy-1.16.6-py27_0', 'openssl-1.1.1w-0', 'python-2.7.18-0', 'zlib-1.2.13-0']);
    expect(execFileSync(path.join(prefix, 'bin/python'), ['--version'], { encoding: 'utf8' })).toBe('Python 2.7.18\n');
    expect(server.requests.some((r) => r.path === '/seed/linux-64/python-2.7.18-0.tar.bz2' && r.status === 200)).toBe(true);
  });
});
