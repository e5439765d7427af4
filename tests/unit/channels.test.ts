import { expandChannel, expandChannels } from '../../src/solver/channels.js';
import { ConfigurationError } from '../../src/util/errors.js';

const opts = { channelAlias: 'https://conda.anaconda.org', cwd: '/srv/repo' };

test('names go through the channel alias (trailing slash on the alias ignored)', () => {
  expect(expandChannel('conda-forge', opts)).toEqual(['https://conda.anaconda.org/conda-forge']);
  expect(expandChannel('conda-forge/label/dev', { channelAlias: 'https://mirror.example.org/conda/' })).toEqual(['https://mirror.example.org/conda/conda-forge/label/dev']);
});

test('defaults is pkgs/main and pkgs/r', () => {
  expect(expandChannel('defaults', opts)).toEqual(['https://repo.anaconda.com/pkgs/main', 'https://repo.anaconda.com/pkgs/r']);
});

test('URLs stay as they are, without a trailing slash', () => {
  expect(expandChannel('https://example.org/chan/', opts)).toEqual(['https://example.org/chan']);
  expect(expandChannel('http://127.0.0.1:8080/c', opts)).toEqual(['http://127.0.0.1:8080/c']);
  expect(expandChannel('file:///opt/my%20chan/', opts)).toEqual(['file:///opt/my%20chan']);
});

test('local directories become file:// URLs (relative ones against cwd)', () => {
  expect(expandChannel('/opt/my chan', opts)).toEqual(['file:///opt/my%20chan']);
  expect(expandChannel('./local', opts)).toEqual(['file:///srv/repo/local']);
  expect(expandChannel('../up/', opts)).toEqual(['file:///srv/up']);
});

test('expandChannels keeps priority order and drops repeats', () => {
  expect(expandChannels(['conda-forge', 'defaults', 'https://conda.anaconda.org/conda-forge/', 'defaults'], opts)).toEqual([
    'https://conda.anaconda.org/conda-forge',
    'https://repo.anaconda.com/pkgs/main',
    'https://repo.anaconda.com/pkgs/r',
  ]);
});

test('credentials in a channel URL are refused without echoing them', () => {
  for (const c of ['https://user:s3cret@example.org/chan', 'https://conda.anaconda.org/t/s3cret/private']) {
    expect(() => expandChannel(c, opts)).toThrow(ConfigurationError);
    try {
      expandChannel(c, opts);
    } catch (err) {
      expect((err as Error).message).not.toContain('s3cret');
      expect((err as Error).message).toMatch(/api-user\/api-key/);
    }
  }
});

test('nonsense is refused', () => {
  expect(() => expandChannel('ftp://x/y', opts)).toThrow(/only https/);
  expect(() => expandChannel('not a channel', opts)).toThrow(/neither/);
  expect(() => expandChannel(' ', opts)).toThrow(/empty/);
});
