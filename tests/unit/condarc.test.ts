/** A site's condarc: the keys read, the keys ignored, the refusals, and what they do to channel names. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readCondarc } from '../../src/conda/condarc.js';
import { parseResolveSettings, type RawSettings } from '../../src/phases/settings.js';
import { expandChannels } from '../../src/solver/channels.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'gitenv-condarc-'));
function rc(text: string): string {
  const file = path.join(dir, `rc-${Math.random().toString(36).slice(2)}.yml`);
  writeFileSync(file, text);
  return file;
}

test('the five keys are read; the rest are listed as ignored', () => {
  const file = rc(
    [
      'channel_alias: https://conda.site.example/',
      'custom_channels:',
      '  internal: https://artifacts.site.example/conda',
      'default_channels:',
      '  - https://mirror.site.example/pkgs/main',
      '  - r',
      'proxy_servers:',
      '  http: http://proxy.site.example:3128',
      '  https: http://proxy.site.example:3128',
      'ssl_verify: /etc/pki/site-ca.pem',
      'auto_update_conda: false',
      'always_yes: true',
    ].join('\n'),
  );
  expect(readCondarc(file)).toEqual({
    file,
    channelAlias: 'https://conda.site.example',
    customChannels: { internal: 'https://artifacts.site.example/conda' },
    defaultChannels: ['https://mirror.site.example/pkgs/main', 'r'],
    proxyServers: { http: 'http://proxy.site.example:3128', https: 'http://proxy.site.example:3128' },
    sslVerify: '/etc/pki/site-ca.pem',
    ignored: ['auto_update_conda', 'always_yes'],
  });
  expect(readCondarc(rc('ssl_verify: false\n')).sslVerify).toBe(false);
  expect(readCondarc(rc('ssl_verify: true\n')).sslVerify).toBeUndefined();
  expect(readCondarc(rc('')).ignored).toEqual([]);
});

test('channel names, defaults and custom channels expand as conda would with that condarc', () => {
  const site = readCondarc(
    rc('channel_alias: https://conda.site.example\ncustom_channels:\n  internal: https://artifacts.site.example/conda\ndefault_channels: [https://mirror.site.example/pkgs/main, r]\n'),
  );
  const raw: RawSettings = { get: (n) => ({ repository: dir, condarc: site.file })[n], label: (n) => `--${n}`, setSecret: () => {}, env: {}, frontEnd: 'cli' };
  const settings = parseResolveSettings(raw);
  expect(settings.channelAlias).toBe('https://conda.site.example');
  expect(expandChannels(['internal', 'internal/label/dev', 'conda-forge', 'defaults'], settings)).toEqual([
    'https://artifacts.site.example/conda/internal',
    'https://artifacts.site.example/conda/internal/label/dev',
    'https://conda.site.example/conda-forge',
    'https://mirror.site.example/pkgs/main',
    'https://conda.site.example/r',
  ]);
  // --channel-alias wins over the condarc's.
  const given: RawSettings = { ...raw, get: (n) => ({ repository: dir, condarc: site.file, 'channel-alias': 'https://other.example' })[n] };
  expect(parseResolveSettings(given).channelAlias).toBe('https://other.example');
});

test.each([
  ['channel_alias: conda.site.example\n', 'channel_alias must be an http://, https:// or file:// URL'],
  ['custom_channels: [a, b]\n', 'custom_channels must be a mapping'],
  ['custom_channels:\n  internal: 42\n', 'custom_channels.internal must be an http://, https:// or file:// URL'],
  ['default_channels: main\n', 'default_channels must be a list of channel URLs or names'],
  ['proxy_servers:\n  https: proxy:3128\n', 'proxy_servers.https must be a proxy URL'],
  ['ssl_verify: [1]\n', 'ssl_verify must be true, false or the path of a CA bundle'],
  ['- a\n- b\n', 'must be a mapping of settings'],
  ['a: [\n', 'is not valid YAML'],
])('refused: %j', (text, want) => {
  const file = rc(text);
  const raw: RawSettings = { get: (n) => ({ repository: dir, condarc: file })[n], label: (n) => `Input ${n}`, setSecret: () => {}, env: {}, frontEnd: 'action' };
  expect(() => parseResolveSettings(raw)).toThrow(want);
  expect(() => parseResolveSettings(raw)).toThrow(/^Input condarc /);
});

test('a condarc that cannot be read is refused with its path', () => {
  const raw: RawSettings = { get: (n) => ({ repository: dir, condarc: '/no/such/condarc' })[n], label: (n) => `--${n}`, setSecret: () => {}, env: {}, frontEnd: 'cli' };
  expect(() => parseResolveSettings(raw)).toThrow('--condarc /no/such/condarc cannot be read (ENOENT)');
});
