import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { authKey, baseEnvironment, overrideVariables, writeAuthHome } from '../../src/engines/micromamba-env.js';
import { virtualPackages } from '../../src/conda/virtual-packages.js';

describe('CONDA_OVERRIDE_* from virtual packages', () => {
  test('linux-64 defaults: glibc, linux and archspec set, cuda removed', () => {
    expect(overrideVariables(virtualPackages('linux-64', {}))).toEqual({
      CONDA_OVERRIDE_GLIBC: '2.28',
      CONDA_OVERRIDE_CUDA: '',
      CONDA_OVERRIDE_LINUX: '5.14',
      CONDA_OVERRIDE_ARCHSPEC: 'x86_64',
    });
  });

  test('user overrides carried through virtualPackages reach micromamba', () => {
    const vars = overrideVariables(virtualPackages('linux-aarch64', { CONDA_OVERRIDE_GLIBC: '2.17', CONDA_OVERRIDE_CUDA: '12.4' }));
    expect(vars.CONDA_OVERRIDE_GLIBC).toBe('2.17');
    expect(vars.CONDA_OVERRIDE_CUDA).toBe('12.4');
    expect(vars.CONDA_OVERRIDE_ARCHSPEC).toBe('aarch64');
  });

  test('osx-arm64: no glibc, osx version set', () => {
    const vars = overrideVariables(virtualPackages('osx-arm64', {}));
    expect(vars).toMatchObject({ CONDA_OVERRIDE_GLIBC: '', CONDA_OVERRIDE_OSX: '11.0', CONDA_OVERRIDE_ARCHSPEC: 'arm64' });
    expect(vars.CONDA_OVERRIDE_LINUX).toBeUndefined();
  });

  test('inherited overrides are dropped from the base environment', () => {
    expect(baseEnvironment({ PATH: '/bin', CONDA_OVERRIDE_GLIBC: '2.5' })).toEqual({ PATH: '/bin' });
  });
});

describe('authentication file', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'gitenv mm auth '));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('keys are URLs without scheme; file channels get none', () => {
    expect(authKey('https://repo.example.com:8443/private/')).toBe('repo.example.com:8443/private');
    expect(authKey('https://u:p@repo.example.com/x')).toBe('repo.example.com/x');
    expect(authKey('file:///data/chan')).toBeUndefined();
  });

  test('no credentials, no file', async () => {
    expect(await writeAuthHome({}, ['https://a.example/c'], dir, { HOME: dir })).toBeUndefined();
  });

  test('written 0600 with the user entries kept and one entry per http channel', async () => {
    const userHome = path.join(dir, 'user');
    await mkdir(path.join(userHome, '.mamba', 'auth'), { recursive: true });
    await writeFile(path.join(userHome, '.mamba', 'auth', 'authentication.json'), JSON.stringify({ 'other.example': { type: 'BearerToken', token: 'tok' } }));
    const home = await writeAuthHome({ apiUser: 'alice', apiKey: 'k3y-value' }, ['https://repo.example.com/private', 'file:///local'], dir, { HOME: userHome });
    const file = path.join(home!.home, '.mamba', 'auth', 'authentication.json');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual({
      'other.example': { type: 'BearerToken', token: 'tok' },
      'repo.example.com/private': {
        type: 'BasicHTTPAuthentication',
        user: 'alice',
        password: Buffer.from('k3y-value').toString('base64'),
      },
    });
    await home!.dispose();
    await expect(stat(home!.home)).rejects.toThrow();
  });
});
