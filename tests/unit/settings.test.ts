/**
 * One settings parser per phase: what the front ends collected (strings) becomes typed settings,
 * and every option has its refusal, in the action's spelling (`Input x`) and the CLI's (`--x`).
 */
import { mkdtempSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  OPTIONS,
  parseAutotagSettings,
  parseDeploySettings,
  parseLabelSettings,
  parseLogLevel,
  parseResolveSettings,
  parseSetupSettings,
  repositoryUrl,
  type RawSettings,
  type RawValue,
} from '../../src/phases/settings.js';
import { ConfigurationError } from '../../src/util/errors.js';

const REPO = mkdtempSync(path.join(os.tmpdir(), 'gitenv-settings-'));

function raw(values: Record<string, RawValue>, frontEnd: 'cli' | 'action' = 'action', env: NodeJS.ProcessEnv = {}) {
  const secrets: string[] = [];
  const settings: RawSettings = {
    get: (name) => values[name],
    label: (name) => (frontEnd === 'action' ? `Input ${name}` : `--${name}`),
    setSecret: (s) => secrets.push(s),
    env,
    frontEnd,
  };
  return { settings, secrets };
}

const base = { repository: REPO };

function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigurationError);
    return (err as Error).message;
  }
  throw new Error('expected a refusal');
}

describe('typed settings from strings', () => {
  test('resolve: defaults, and every value read', () => {
    expect(parseResolveSettings(raw(base).settings)).toEqual({
      repository: REPO,
      token: undefined,
      envs: ['*'],
      dryRun: false,
      workDir: undefined,
      apiUser: undefined,
      apiKey: undefined,
      platform: 'linux-64',
      channelAlias: 'https://conda.anaconda.org',
      engine: 'builtin',
      mode: 'push',
      actionsCache: true,
    });
    const { settings, secrets } = raw(
      {
        ...base,
        token: 'tok-123',
        envs: 'a, b\nc*',
        'dry-run': 'true',
        platform: 'osx-arm64',
        'channel-alias': 'https://conda.example.org/',
        'api-user': 'me',
        'api-key': 'key-456',
        engine: 'micromamba',
        mode: 'check',
      },
      'action',
      { RUNNER_TEMP: '/tmp/rt' },
    );
    expect(parseResolveSettings(settings)).toMatchObject({
      token: 'tok-123',
      envs: ['a', 'b', 'c*'],
      dryRun: true,
      workDir: '/tmp/rt',
      platform: 'osx-arm64',
      channelAlias: 'https://conda.example.org',
      apiUser: 'me',
      apiKey: 'key-456',
      engine: 'micromamba',
      mode: 'check',
    });
    expect(secrets).toEqual(['tok-123', 'me', 'key-456']);
  });

  test('CLI lists (nargs=+, repeated, commas) and switches', () => {
    const { settings } = raw({ ...base, envs: ['a', 'b,c'], 'dry-run': true }, 'cli');
    expect(parseAutotagSettings(settings)).toMatchObject({ envs: ['a', 'b', 'c'], dryRun: true });
    expect(parseAutotagSettings(raw(base, 'cli').settings).envs).toEqual([]);
  });

  test('label and deploy', () => {
    expect(parseLabelSettings(raw({ ...base, tag: 'env-default-2024_05_01-2', 'next-only': 'yes' }).settings)).toMatchObject({
      tag: 'env-default-2024_05_01-2',
      nextOnly: true,
      label: undefined,
    });
    expect(parseDeploySettings(raw({ ...base, target: '/t', 'env-labels': 'default/*', mirror: 'https://m.example/', prune: 'true', keep: '0', 'pkg-cache': '/c' }).settings)).toMatchObject({
      target: '/t',
      envLabels: ['default/*'],
      mirror: 'https://m.example',
      prune: true,
      keep: 0,
      pkgCache: '/c',
      engine: 'builtin',
    });
    expect(parseDeploySettings(raw({ ...base, target: '/t' }).settings)).toMatchObject({ envLabels: ['*'], keep: 2, prune: false, platform: undefined });
    expect(parseDeploySettings(raw({ ...base, target: '/t', platform: 'osx-arm64' }).settings).platform).toBe('osx-arm64');
    expect(() => parseDeploySettings(raw({ ...base, target: '/t', platform: 'noarch' }).settings)).toThrow('Input platform must be a conda platform');
  });

  test('setup', () => {
    expect(parseSetupSettings(raw({ 'micromamba-sha256': 'A'.repeat(64) }).settings)).toMatchObject({ version: '2.3.3-0', sha256: 'a'.repeat(64) });
  });
});

describe('repository: URLs, paths, owner/name', () => {
  test.each([
    ['https://github.com/o/n.git', 'https://github.com/o/n.git'],
    ['file:///srv/envs.git', 'file:///srv/envs.git'],
    ['ssh://git@host/o/n.git', 'ssh://git@host/o/n.git'],
    ['git@github.com:o/n.git', 'git@github.com:o/n.git'],
    [REPO, REPO],
    ['SciTools/environments', 'https://ghe.example.com/SciTools/environments.git'],
    ['o/n.git', 'https://ghe.example.com/o/n.git'],
  ])('%s', (value, want) => {
    expect(repositoryUrl(value, { GITHUB_SERVER_URL: 'https://ghe.example.com/' })).toBe(want);
  });
  test('owner/name on github.com when no server is known', () => {
    expect(repositoryUrl('o/n', {})).toBe('https://github.com/o/n.git');
  });
  test.each(['not a repo', 'a/b/c', './missing-dir', 'ftp://host/x.git', '../x'])('refused: %s', (value) => {
    const msg = refusal(() => parseAutotagSettings(raw({ repository: value }).settings));
    expect(msg).toMatch(/^Input repository "/);
    expect(msg).toContain('owner/name');
  });
});

/** Every option of every phase and its refusal, in the action's words and the CLI's. */
const REFUSALS: [string, (r: RawSettings) => unknown, Record<string, RawValue>, string][] = [
  ['repository', parseAutotagSettings, { repository: undefined }, 'Input required and not supplied: repository'],
  ['token', parseAutotagSettings, { ...base, token: 'a\nb' }, 'Input token must be one line'],
  ['envs', parseAutotagSettings, { ...base, envs: '-rf' }, 'Input envs "-rf" starts with "-"'],
  ['dry-run', parseAutotagSettings, { ...base, 'dry-run': 'maybe' }, 'Input dry-run must be true or false, got "maybe"'],
  ['platform', parseResolveSettings, { ...base, platform: 'linux64' }, 'Input platform must be a conda platform such as linux-64'],
  ['channel-alias', parseResolveSettings, { ...base, 'channel-alias': 'conda.example.org' }, 'Input channel-alias must be an http://, https:// or file:// URL, got "conda.example.org"'],
  ['api-user', parseResolveSettings, { ...base, 'api-user': 'me' }, 'Input api-user is given without api-key'],
  ['api-key', parseDeploySettings, { ...base, target: '/t', 'api-key': 'k-123' }, 'Input api-key is given without api-user'],
  ['engine', parseResolveSettings, { ...base, engine: 'conda' }, 'Input engine must be builtin or micromamba, got "conda"'],
  ['mode', parseResolveSettings, { ...base, mode: 'pull_request' }, 'Input mode must be push, pull-request or check, got "pull_request"'],
  ['tag', parseLabelSettings, { ...base, tag: 'v1.0' }, 'Input tag "v1.0" is not a gitenv tag (env-<env>-<YYYY_MM_DD>[-N])'],
  ['next-only', parseLabelSettings, { ...base, tag: 'env-a-2024_01_01', 'next-only': 'true', label: 'pre-prod' }, 'Input next-only cannot be combined with Input label'],
  ['label', parseLabelSettings, { ...base, tag: 'env-a-2024_01_01', label: 'latest' }, 'Input label "latest": "latest" is computed'],
  ['target', parseDeploySettings, { ...base }, 'Input required and not supplied: target'],
  ['env-labels', parseDeploySettings, { ...base, target: '/t', 'env-labels': 'a/\u0001' }, 'Input env-labels holds a control character'],
  ['mirror', parseDeploySettings, { ...base, target: '/t', mirror: 'https://u:p@m.example' }, 'Input mirror must not carry credentials'],
  ['prune', parseDeploySettings, { ...base, target: '/t', prune: 'sometimes' }, 'Input prune must be true or false, got "sometimes"'],
  ['keep', parseDeploySettings, { ...base, target: '/t', keep: '-1' }, 'Input keep must be a whole number (0 or more), got "-1"'],
  ['pkg-cache', parseDeploySettings, { ...base, target: '/t', 'pkg-cache': true }, 'Input pkg-cache needs a value'],
  ['skip-tests', parseDeploySettings, { ...base, target: '/t', 'skip-tests': 'maybe' }, 'Input skip-tests must be true or false, got "maybe"'],
  ['test-timeout', parseDeploySettings, { ...base, target: '/t', 'test-timeout': '-1' }, 'Input test-timeout must be a whole number (0 or more), got "-1"'],
  ['modulefiles', parseDeploySettings, { ...base, target: '/t', modulefiles: true }, 'Input modulefiles needs a value'],
  ['modulefiles-format', parseDeploySettings, { ...base, target: '/t', 'modulefiles-format': 'xml' }, 'got "xml"'],
  ['modulefiles-template', parseDeploySettings, { ...base, target: '/t', 'modulefiles-template': true }, 'Input modulefiles-template needs a value'],
  ['group', parseDeploySettings, { ...base, target: '/t', group: true }, 'Input group needs a value'],
  ['world-readable', parseDeploySettings, { ...base, target: '/t', 'world-readable': 'maybe' }, 'Input world-readable must be true or false, got "maybe"'],
  ['cache', parseResolveSettings, { ...base, cache: 'often' }, 'Input cache must be true or false, got "often"'],
  ['condarc', parseDeploySettings, { ...base, target: '/t', condarc: '/no/such/condarc' }, 'Input condarc /no/such/condarc cannot be read (ENOENT)'],
  ['log-level', parseLogLevel, { 'log-level': 'verbose' }, 'Input log-level must be info or debug, got "verbose"'],
  ['micromamba-version', parseSetupSettings, { 'micromamba-version': 'latest' }, 'Input micromamba-version must be an exact release'],
  ['micromamba-url', parseSetupSettings, { 'micromamba-url': 'github.com/x' }, 'Input micromamba-url must be an http://, https:// or file:// URL template'],
  ['micromamba-sha256', parseSetupSettings, { 'micromamba-sha256': 'abc' }, 'Input micromamba-sha256 must be 64 hex digits, got "abc"'],
];

describe('refusals', () => {
  test.each(REFUSALS)('%s', (_name, parse, values, want) => {
    expect(refusal(() => parse(raw(values).settings))).toContain(want);
  });

  test('the CLI words them with its flags, and has no pull-request mode', () => {
    expect(refusal(() => parseResolveSettings(raw({ ...base, mode: 'pull-request' }, 'cli').settings))).toBe('--mode must be push or check, got "pull-request"');
    expect(refusal(() => parseDeploySettings(raw({ ...base, target: '/t', keep: 'two' }, 'cli').settings))).toBe('--keep must be a whole number (0 or more), got "two"');
  });

  test('every option in the table has a refusal case (or is free text by nature)', () => {
    const free = new Set(['github-api-url']);
    const covered = new Set(REFUSALS.map((r) => r[0]));
    expect(OPTIONS.map((o) => o.name).filter((n) => !covered.has(n) && !free.has(n))).toEqual([]);
  });
});
