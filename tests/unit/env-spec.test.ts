import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseEnvSpec } from '../../src/repo/env-spec.js';
import { specName } from '../../src/conda/types.js';
import { parseMatchSpec } from '../../src/repo/match-spec.js';
import { checkVersionSpec } from '../../src/repo/version-check.js';
import { ConfigurationError } from '../../src/util/errors.js';

const src = { env: 'default' };

function errorOf(text: string | Buffer): ConfigurationError {
  try {
    parseEnvSpec(text, src, checkVersionSpec);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigurationError);
    return err as ConfigurationError;
  }
  throw new Error('expected a ConfigurationError');
}

test('reads channels and env in order, trimmed', () => {
  const spec = parseEnvSpec('channels:\n  - conda-forge\n  - defaults\nenv:\n  - python 3.12.*\n  - "numpy >=2"\n', src, checkVersionSpec);
  expect(spec.channels).toEqual(['conda-forge', 'defaults']);
  expect(spec.specs).toEqual(['python 3.12.*', 'numpy >=2']);
  expect(spec.matchSpecs.map((m) => m.name)).toEqual(['python', 'numpy']);
});

test('accepts dependencies: as a synonym for env:, and a Buffer', () => {
  const spec = parseEnvSpec(Buffer.from('channels: [conda-forge]\ndependencies: [python=3.12, scipy]\n'), src, checkVersionSpec);
  expect(spec.specs).toEqual(['python=3.12', 'scipy']);
});

test('accepts channel URLs and channel labels', () => {
  const spec = parseEnvSpec('channels:\n- https://example.org/chan\n- file:///srv/my channel\n- conda-forge/label/dev\nenv: [x]\n', src, checkVersionSpec);
  expect(spec.channels).toHaveLength(3);
});

test('accepts absolute local directories as channels, not relative ones', () => {
  expect(parseEnvSpec('channels: [/srv/conda/site-channel, ~/channels/dev]\nenv: [x]\n', src, checkVersionSpec).channels).toEqual(['/srv/conda/site-channel', '~/channels/dev']);
  expect(errorOf('channels: [./chan]\nenv: [x]\n').message).toContain('nor an absolute directory');
});

test('an unknown key names the file, the line and the environment', () => {
  const err = errorOf('channels: [conda-forge]\nenv: [python]\nchanel: [oops]\n');
  expect(err.message).toContain('unknown key "chanel"');
  expect(err.message).toContain('env.spec line 3');
  expect(err.message).toContain('"default"');
  expect(err.where).toEqual({ env: 'default', file: 'env.spec', line: 3 });
});

test('a missing or mistyped list is an error', () => {
  expect(errorOf('env: [python]\n').message).toContain('"channels:" is missing');
  expect(errorOf('channels: conda-forge\nenv: [python]\n').message).toContain('"channels:" must be a list of strings, not a string');
  const num = errorOf('channels: [conda-forge]\nenv:\n  - python\n  - 3.12\n');
  expect(num.message).toContain('item 2 must be a string, not a number');
});

test('an empty env: is an error, with its line', () => {
  const err = errorOf('channels: [conda-forge]\nenv: []\n');
  expect(err.message).toContain('"env:" is empty');
  expect(err.where.line).toBe(2);
  expect(errorOf('channels: [conda-forge]\nenv:\n').message).toContain('"env:" is empty');
});

test('an empty file and a non-mapping are errors', () => {
  expect(errorOf('').message).toContain('is empty');
  expect(errorOf('- a\n- b\n').message).toContain('must be a mapping');
});

test('env: and dependencies: together are refused', () => {
  expect(errorOf('channels: [c]\nenv: [a]\ndependencies: [b]\n').message).toContain('both');
});

test('an unparsable match spec names its line', () => {
  const err = errorOf('channels: [conda-forge]\nenv:\n  - python 3.12.*\n  # a comment\n  - numpy >>2\n');
  expect(err.message).toContain('"numpy >>2" is not a valid match spec');
  expect(err.where.line).toBe(5);
});

test('invalid YAML reports the parser line', () => {
  const err = errorOf('channels: [conda-forge\nenv: [python]\n');
  expect(err.message).toContain('is not valid YAML');
  expect(err.where.line).toBeGreaterThan(0);
});

test('a pip section is refused with a reason', () => {
  expect(errorOf('channels: [c]\ndependencies:\n  - python\n  - pip:\n    - requests\n').message).toContain('pip section');
});

test('channel URLs with credentials and odd channel strings are refused', () => {
  const err = errorOf('channels: ["https://user:secret@example.org/c"]\nenv: [python]\n');
  expect(err.message).toContain('must not carry credentials');
  expect(err.message).not.toContain('secret');
  expect(errorOf('channels: ["ftp://x/y"]\nenv: [python]\n').message).toContain('channel "ftp://x/y"');
});

test('an alias bomb is refused quickly, without expanding it', () => {
  const lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
  for (let i = 1; i < 12; i++) {
    const prev = String.fromCharCode(97 + i - 1);
    const cur = String.fromCharCode(97 + i);
    lines.push(`${cur}: &${cur} [*${prev},*${prev},*${prev},*${prev},*${prev},*${prev},*${prev},*${prev},*${prev}]`);
  }
  lines.push('channels: [c]', 'env: *l');
  const err = errorOf(lines.join('\n') + '\n');
  expect(err.message).toContain('unknown key "a"');
  // the same bomb under a known key is a type error, found without walking it
  const err2 = errorOf(
    lines
      .slice(0, 12)
      .map((l) => '#' + l)
      .join('\n') + '\nchannels: &a [[x, x], [x, x]]\nenv: [*a, *a]\n',
  );
  expect(err2.message).toContain('must be a string');
});

test('a huge file is refused before parsing', () => {
  const text = 'channels: [c]\nenv:\n' + '  - python\n'.repeat(40_000);
  expect(errorOf(text).message).toContain('bytes');
});

test('deep nesting is refused', () => {
  expect(errorOf('channels: ' + '['.repeat(50) + ']'.repeat(50) + '\nenv: [x]\n').message).toContain('not valid YAML');
});

describe('parseMatchSpec', () => {
  test.each([
    ['python', { name: 'python' }],
    ['python 3.12.*', { name: 'python', version: '3.12.*' }],
    ['numpy >=2', { name: 'numpy', version: '>=2' }],
    ['numpy >= 1.2, < 3', { name: 'numpy', version: '>=1.2,<3' }],
    ['numpy>=2,<3', { name: 'numpy', version: '>=2,<3' }],
    ['python=3.12', { name: 'python', version: '=3.12' }],
    ['numpy=1.26=py312h0', { name: 'numpy', version: '=1.26', build: 'py312h0' }],
    ['numpy 1.26 *_0', { name: 'numpy', version: '1.26', build: '*_0' }],
    ['conda-forge::scipy', { name: 'scipy', channel: 'conda-forge' }],
    ["numpy[version='>=2,<3', build=py*]", { name: 'numpy', brackets: { version: '>=2,<3', build: 'py*' } }],
  ])('%s', (text, expected) => {
    expect(parseMatchSpec(text, checkVersionSpec)).toEqual(expected);
    // The quick name rule the lock, the pruner and conda-meta use agrees with the full parser.
    expect(specName(text)).toBe(expected.name.toLowerCase());
  });

  test.each([[''], ['numpy >>2'], ['num$py'], ['a 1 b c'], ['numpy=1=2=3'], ['numpy[version>2]'], ['numpy 1..2']])('refuses %j', (text) => {
    expect(() => parseMatchSpec(text, checkVersionSpec)).toThrow();
  });
});

test("'unchecked' leaves versions to the solver; everything else of the env.spec is checked as before", () => {
  const text = 'channels: [conda-forge]\nenv:\n  - numpy >>2\n  - python 3.12.*\ntests: [python -V]\n';
  expect(() => parseEnvSpec(text, src, checkVersionSpec)).toThrow(/"numpy >>2" is not a valid match spec: ">>2" is not a version spec/);
  const spec = parseEnvSpec(text, src, 'unchecked');
  expect(spec.specs).toEqual(['numpy >>2', 'python 3.12.*']);
  expect(spec.matchSpecs.map((m) => m.version)).toEqual(['>>2', '3.12.*']);
  expect(spec.tests).toEqual(['python -V']);
  // Names, builds, channels and the file's shape are still refused.
  expect(() => parseEnvSpec('channels: [conda-forge]\nenv: [num$py]\n', src, 'unchecked')).toThrow(/not a valid match spec/);
  expect(() => parseEnvSpec('channels: [../x]\nenv: [numpy]\n', src, 'unchecked')).toThrow();
  expect(() => parseEnvSpec('channels: [c]\nenv: [numpy]\nextra: 1\n', src, 'unchecked')).toThrow(/unknown key "extra"/);
});

test('the deploy, label and autotag actions do not carry the solver: only resolve (and the CLI) load its WebAssembly', () => {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const bundle = (name: string) => readFileSync(path.join(here, '..', '..', 'dist', name, 'index.js'), 'utf8');
  for (const name of ['deploy', 'label', 'autotag']) expect(bundle(name)).not.toContain('@conda-org/rattler');
  expect(bundle('resolve')).toContain('initSync({ module: mod() })');
});

test('refuses a file that is not UTF-8, naming the line', () => {
  const bytes = Buffer.concat([Buffer.from('channels: [conda-forge]\n# caf'), Buffer.from([0xe9]), Buffer.from('\nenv: [python]\n')]);
  const err = errorOf(bytes);
  expect(err.message).toContain('is not valid UTF-8');
  expect(err.where.line).toBe(2);
});

describe('tests: (smoke tests a deploy runs before a label moves)', () => {
  const base = 'channels: [conda-forge]\nenv: [python]\n';

  test('a list of shell commands, in order; none when absent', () => {
    expect(parseEnvSpec(`${base}tests:\n  - python -c "import numpy"\n  - gdalinfo --version\n`, src, checkVersionSpec).tests).toEqual(['python -c "import numpy"', 'gdalinfo --version']);
    expect(parseEnvSpec(base, src, checkVersionSpec).tests).toEqual([]);
    expect(parseEnvSpec(`${base}tests:\n`, src, checkVersionSpec).tests).toEqual([]);
  });

  test('wrong types and empty commands name the file, the line and the environment', () => {
    expect(errorOf(`${base}tests: python -V\n`).message).toMatch(/^env.spec line 3 of environment "default": "tests:" must be a list of strings/);
    expect(errorOf(`${base}tests:\n  - {run: x}\n`).message).toContain('"tests:" item 1 must be a string');
    const empty = errorOf(`${base}tests:\n  - python -V\n  - ""\n`);
    expect(empty.message).toContain('"tests:" holds an empty command');
    expect(empty.where).toMatchObject({ env: 'default', file: 'env.spec' });
    expect(errorOf(`${base}tests:\n  - "${'x'.repeat(5000)}"\n`).message).toContain('longer than 4096 characters');
  });
});

describe('platforms:', () => {
  test('absent: undefined (the resolve platform input decides)', () => {
    expect(parseEnvSpec('channels: [c]\nenv: [x]\n', src, checkVersionSpec).platforms).toBeUndefined();
  });

  test('a list of conda subdirs, in order', () => {
    const spec = parseEnvSpec('channels: [c]\nplatforms:\n  - linux-64\n  - osx-arm64\n  - linux-aarch64\nenv: [x]\n', src, checkVersionSpec);
    expect(spec.platforms).toEqual(['linux-64', 'osx-arm64', 'linux-aarch64']);
  });

  test('an unknown subdir is a user error naming the file and its line', () => {
    const err = errorOf('channels: [c]\nenv: [x]\nplatforms:\n  - linux-64\n  - linux-arm64\n');
    expect(err.message).toMatch(/^env\.spec line 5 of environment "default": "linux-arm64" is not a conda platform \(known: linux-64, linux-aarch64/);
    expect(err.where).toMatchObject({ env: 'default', file: 'env.spec', line: 5 });
  });

  test('noarch, an empty list, a duplicate and a non-list are refused', () => {
    expect(errorOf('channels: [c]\nenv: [x]\nplatforms: [noarch]\n').message).toMatch(/line 3 .*"noarch" is not a conda platform.*noarch is always included/);
    expect(errorOf('channels: [c]\nenv: [x]\nplatforms: []\n').message).toMatch(/line 3 .*"platforms:" is empty/);
    expect(errorOf('channels: [c]\nenv: [x]\nplatforms:\n  - osx-64\n  - osx-64\n').message).toMatch(/line 5 .*platform "osx-64" is listed twice/);
    expect(errorOf('channels: [c]\nenv: [x]\nplatforms: linux-64\n').message).toMatch(/line 3 .*"platforms:" must be a list of strings/);
  });
});
