/**
 * Site networks through the CLI bundle, with real parts on loopback: a real forward proxy
 * (Debian's tinyproxy, demanding basic auth, started here on a free port) through which a resolve
 * and a deploy pass, git included (the proxy's log is read); a stopped proxy named in the error; an
 * HTTPS channel whose certificate comes from a CA made here with openssl, trusted only through
 * SSL_CERT_FILE, NODE_EXTRA_CA_CERTS or a condarc's `ssl_verify: <path>`; `ssl_verify: false`.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { promises as fs } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { ensureBundles } from '../fixtures/bundles.js';
import { buildSeedChannel, serveChannel, type ChannelServer } from '../fixtures/channel/index.js';
import { cleanEnv, runNode } from '../fixtures/git-frontends.js';
import { GitHttpServer } from '../fixtures/git-http-server.js';
import { GitHubApiServer } from '../fixtures/github-api-server.js';
import { GitFixture } from '../fixtures/git-repo.js';

const run = promisify(execFile);
const PROXY_USER = 'proxyuser';
const PROXY_PASSWORD = 'proxy-pw-4711';
const GIT_TOKEN = 'git-token-0815';

function tinyproxyPath(): string | undefined {
  for (const p of ['/usr/bin/tinyproxy', '/usr/sbin/tinyproxy']) {
    try {
      execFileSync(p, ['-v'], { stdio: 'ignore' });
      return p;
    } catch {
      // next
    }
  }
  if (process.env.CI) throw new Error('tinyproxy missing in CI: .ci/setup-extra should have installed it');
  return undefined;
}
const TINYPROXY = tinyproxyPath();
const maybe = TINYPROXY ? test : test.skip;

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function waitForPort(port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.end();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nothing listens on ${port}`);
}

interface Proxy {
  port: number;
  log: string;
  child: ChildProcess;
}

async function startProxy(dir: string): Promise<Proxy> {
  const port = await freePort();
  const log = path.join(dir, 'tinyproxy.log');
  const conf = path.join(dir, 'tinyproxy.conf');
  await fs.writeFile(
    conf,
    [`Port ${port}`, 'Listen 127.0.0.1', 'Timeout 60', `LogFile "${log}"`, 'LogLevel Info', 'MaxClients 50', 'Allow 127.0.0.1', `BasicAuth ${PROXY_USER} ${PROXY_PASSWORD}`].join('\n') + '\n',
  );
  const child = spawn(TINYPROXY as string, ['-d', '-c', conf], { stdio: 'ignore' });
  await waitForPort(port);
  return { port, log, child };
}

/** A CA and a certificate for 127.0.0.1 signed by it, made with openssl. */
async function makeCertificates(dir: string): Promise<{ ca: string; key: string; cert: string }> {
  const f = (n: string) => path.join(dir, n);
  const ssl = (args: string[]) => run('openssl', args, { cwd: dir });
  await ssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '2', '-subj', '/CN=gitenv test CA']);
  await ssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('server.key'), '-out', f('server.csr'), '-subj', '/CN=127.0.0.1']);
  await fs.writeFile(f('san.ext'), 'subjectAltName=IP:127.0.0.1\n');
  await ssl(['x509', '-req', '-in', f('server.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f('server.pem'), '-days', '2', '-extfile', f('san.ext')]);
  return { ca: f('ca.pem'), key: await fs.readFile(f('server.key'), 'utf8'), cert: await fs.readFile(f('server.pem'), 'utf8') };
}

let cli: string;
let fx: GitFixture;
let channels: string;

beforeAll(async () => {
  cli = (await ensureBundles(['cli'])).cli;
  fx = await GitFixture.create();
  channels = path.join(fx.root, 'channels');
  await buildSeedChannel(path.join(channels, 'seed'));
}, 300_000);
afterAll(async () => {
  await fx?.cleanup();
});

/** The CLI with none of the caller's proxy or CA variables, plus `extra`. */
function gitenv(args: string[], extra: NodeJS.ProcessEnv = {}) {
  const env = cleanEnv({ RUNNER_TEMP: fx.root, HOME: fx.root });
  for (const k of Object.keys(env)) if (/^(https?_proxy|no_proxy|all_proxy|ssl_cert_file|node_extra_ca_certs)$/i.test(k)) delete env[k];
  return runNode([cli, ...args], { ...env, ...extra });
}

async function setSpec(env: string, channel: string, pkgs: string[]): Promise<void> {
  await fx.commit(env, { 'env.spec': `channels:\n  - ${channel}\nenv:\n${pkgs.map((p) => `  - ${p}\n`).join('')}` });
}

maybe(
  'a resolve and a deploy pass through the proxy, git included; its password never shows; a stopped proxy is named',
  async () => {
    const proxy = await startProxy(fx.root);
    const channel = await serveChannel(channels);
    const gitServer = await GitHttpServer.start(fx.root, GIT_TOKEN);
    try {
      await setSpec('proxied', `${channel.url}/seed`, ['python 3.11.*', 'pyhello']);
      const repo = gitServer.url('origin repo.git');
      const proxyUrl = `http://${PROXY_USER}:${PROXY_PASSWORD}@127.0.0.1:${proxy.port}`;
      const env = { HTTP_PROXY: proxyUrl, https_proxy: proxyUrl, GITENV_TOKEN: GIT_TOKEN };
      const target = path.join(fx.root, 'proxied-target');
      const resolved = await gitenv(['resolve', repo, '-e', 'proxied', '-v'], env);
      expect(resolved).toMatchObject({ code: 0 });
      expect(resolved.stdout).toContain('Pushing changes to manifest/proxied');
      expect(resolved.stderr).toContain(`through the proxy http://***@127.0.0.1:${proxy.port}`);
      expect((await gitenv(['autotag', repo, '-e', 'proxied'], env)).code).toBe(0);
      const deployed = await gitenv(['deploy', repo, target, '--envs', 'proxied', '--verbose'], env);
      expect(deployed).toMatchObject({ code: 0 });
      expect(deployed.stdout).toMatch(/Linking proxied\/latest to env-proxied-/);
      for (const out of [resolved, deployed]) expect(out.stdout + out.stderr).not.toContain(PROXY_PASSWORD);

      const log = await fs.readFile(proxy.log, 'utf8');
      // undici tunnels (CONNECT), curl (git) sends absolute-form requests: both through the proxy.
      expect(log).toContain(`CONNECT 127.0.0.1:${channel.port} `);
      expect(log).toMatch(new RegExp(`GET http://127\\.0\\.0\\.1:${new URL(repo).port}/origin%20repo\\.git/info/refs`));
      const packageRequests = channel.requests.filter((r) => /\.(conda|tar\.bz2)$/.test(r.path));
      expect(packageRequests.length).toBeGreaterThan(0);

      // The proxy stopped: the error names it (credentials hidden), and says what to check.
      proxy.child.kill();
      await new Promise((r) => proxy.child.once('exit', r));
      await setSpec('proxied', `${channel.url}/seed`, ['python 3.11.*']);
      const down = await gitenv(['resolve', fx.origin, '-e', 'proxied'], env);
      expect(down.code).toBe(1);
      expect(down.stderr).toContain(`through the proxy http://***@127.0.0.1:${proxy.port}`);
      expect(down.stderr).not.toContain(PROXY_PASSWORD);
      // NO_PROXY exempts the channel's host: the same resolve goes direct.
      const direct = await gitenv(['resolve', fx.origin, '-e', 'proxied', '--dry-run'], { ...env, NO_PROXY: '127.0.0.1' });
      expect(direct.code).toBe(0);
    } finally {
      proxy.child.kill();
      await channel.close();
      await gitServer.close();
    }
  },
  300_000,
);

maybe(
  'the GitHub API goes through the proxy too (the resolve action in pull-request mode); its password never shows',
  async () => {
    const proxy = await startProxy(fx.root);
    const apiToken = 'ghs_proxiedApiToken123';
    const api = await GitHubApiServer.start({ token: apiToken, repository: 'octo/envs' });
    const resolveBundle = (await ensureBundles(['resolve'])).resolve;
    try {
      // A local channel (a directory) of its own: the only HTTP requests of the run are the GitHub API's.
      const channelDir = path.join(fx.root, 'api-channel');
      await buildSeedChannel(channelDir);
      await setSpec('api-proxied', channelDir, ['python 3.*']);
      const proxyUrl = `http://${PROXY_USER}:${PROXY_PASSWORD}@127.0.0.1:${proxy.port}`;
      const action = (mode: string) => {
        const env = cleanEnv({ RUNNER_TEMP: fx.root, HOME: fx.root, XDG_CACHE_HOME: path.join(fx.root, 'api cache') });
        for (const k of Object.keys(env)) if (/^(https?_proxy|no_proxy|all_proxy)$/i.test(k)) delete env[k];
        return runNode([resolveBundle], {
          ...env,
          HTTP_PROXY: proxyUrl,
          HTTPS_PROXY: proxyUrl,
          INPUT_REPOSITORY: fx.origin,
          INPUT_TOKEN: apiToken,
          INPUT_ENVS: 'api-proxied',
          INPUT_MODE: mode,
          INPUT_CACHE: 'false',
          'INPUT_GITHUB-API-URL': api.url,
          GITHUB_REPOSITORY: 'octo/envs',
        });
      };
      expect((await action('push')).code).toBe(0);
      // A newer python in the channel: pull-request mode proposes the change through the API.
      await buildSeedChannel(channelDir, { newerPython: true });
      const ran = await action('pull-request');
      expect(ran.code).toBe(0);
      expect(api.calls()).toEqual(['GET /repos/octo/envs/pulls', 'POST /repos/octo/envs/pulls']);
      const log = await fs.readFile(proxy.log, 'utf8');
      expect(log).toMatch(new RegExp(`(CONNECT 127\\.0\\.0\\.1:${new URL(api.url).port} |GET http://127\\.0\\.0\\.1:${new URL(api.url).port}/repos/)`));
      // Masked for the runner (`::add-mask::`), and seen nowhere else.
      expect((ran.stdout + ran.stderr).replace(/^::add-mask::.*$/gm, '')).not.toContain(PROXY_PASSWORD);
    } finally {
      proxy.child.kill();
      await api.close();
    }
  },
  300_000,
);

test('an HTTPS channel of a private CA: trusted through SSL_CERT_FILE, NODE_EXTRA_CA_CERTS or condarc ssl_verify; refused otherwise', async () => {
  const certs = await makeCertificates(fx.root);
  const channel: ChannelServer = await serveChannel(channels, { tls: { key: certs.key, cert: certs.cert } });
  try {
    await setSpec('private', `${channel.url}/seed`, ['python 3.11.*', 'pyhello']);
    const refused = await gitenv(['resolve', fx.origin, '-e', 'private', '--dry-run']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/certificate/i);

    const viaEnv = await gitenv(['resolve', fx.origin, '-e', 'private'], { SSL_CERT_FILE: certs.ca });
    expect(viaEnv).toMatchObject({ code: 0, stderr: '' });
    expect(viaEnv.stdout).toContain('Pushing changes to manifest/private');
    expect((await gitenv(['autotag', fx.origin, '-e', 'private'])).code).toBe(0);
    const target = path.join(fx.root, 'private-target');
    const deployed = await gitenv(['deploy', fx.origin, target, '-e', 'private'], { SSL_CERT_FILE: certs.ca });
    expect(deployed).toMatchObject({ code: 0 });
    expect(deployed.stdout).toMatch(/Linking private\/latest to env-private-/);

    const nodeExtra = await gitenv(['resolve', fx.origin, '-e', 'private', '--dry-run'], { NODE_EXTRA_CA_CERTS: certs.ca });
    expect(nodeExtra.code).toBe(0);

    const rc = path.join(fx.root, 'site.condarc');
    await fs.writeFile(rc, `ssl_verify: ${certs.ca}\nauto_update_conda: false\n`);
    const viaCondarc = await gitenv(['resolve', fx.origin, '-e', 'private', '--dry-run', '--condarc', rc]);
    expect(viaCondarc.code).toBe(0);
    expect(viaCondarc.stderr).toBe(`warning: condarc ${rc}: ignored auto_update_conda (gitenv reads only channel_alias, custom_channels, default_channels, proxy_servers, ssl_verify)\n`);

    await fs.writeFile(rc, 'ssl_verify: false\n');
    const unverified = await gitenv(['resolve', fx.origin, '-e', 'private', '--dry-run', '--condarc', rc]);
    expect(unverified.code).toBe(0);
    expect(unverified.stderr).toContain('warning: condarc ssl_verify is false: TLS certificates are not checked');
  } finally {
    await channel.close();
  }
}, 300_000);
