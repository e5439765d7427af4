/** The CLI's command line read as conda-gitenv's argparse read it. */
import { helpText, parseCommandLine, usageLine, UsageError } from '../../src/cli-parser.js';
import { OPTIONS } from '../../src/phases/settings.js';

const values = (argv: string[]) => Object.fromEntries(parseCommandLine(argv).values);

function usageError(argv: string[]): string {
  try {
    parseCommandLine(argv);
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return (err as Error).message;
  }
  throw new Error('expected a usage error');
}

test('the old resolve line: _ spellings, short flags, nargs=+ lists, -v', () => {
  expect(values(['resolve', 'repo', '--api_key', 'K', '--api_user', 'U', '--envs', 'a', 'b*', '--verbose'])).toEqual({
    repository: 'repo',
    'api-key': 'K',
    'api-user': 'U',
    envs: ['a', 'b*'],
  });
  const line = parseCommandLine(['resolve', '-k', 'K', '-u', 'U', '-e', 'a', '-e', 'b', '-v', 'repo']);
  expect(line.verbose).toBe(true);
  expect(Object.fromEntries(line.values)).toEqual({ repository: 'repo', 'api-key': 'K', 'api-user': 'U', envs: ['a', 'b'] });
});

test('deploy, label, autotag lines; =, attached short values, --, options before the command', () => {
  expect(values(['deploy', 'repo', 'target', '--env_labels', 'a/*', 'b/next', '--mirror', 'http://m', '-kKEY', '--api-user=U'])).toEqual({
    repository: 'repo',
    target: 'target',
    'env-labels': ['a/*', 'b/next'],
    mirror: 'http://m',
    'api-key': 'KEY',
    'api-user': 'U',
  });
  expect(values(['deploy', 'repo', 'target', '-m', 'http://m'])).toMatchObject({ mirror: 'http://m' });
  expect(values(['label', 'repo', 'env-a-2024_01_01', '--next-only'])).toEqual({ repository: 'repo', tag: 'env-a-2024_01_01', 'next-only': true });
  expect(values(['label', 'repo', 'env-a-2024_01_01', '--next_only'])).toMatchObject({ 'next-only': true });
  expect(values(['autotag', '--dry-run', '--', '-odd dir'])).toEqual({ repository: '-odd dir', 'dry-run': true });
  expect(parseCommandLine(['-v', 'autotag', 'r']).verbose).toBe(true);
  // The last of a repeated single-valued option wins (argparse's store).
  expect(values(['deploy', 'r', 't', '--keep', '1', '--keep', '3'])).toMatchObject({ keep: '3' });
});

test('usage errors in plain words', () => {
  expect(usageError(['resolve'])).toBe('missing argument <repo>: the environments repository: a git URL, a local path, or owner/name on the GitHub server');
  expect(usageError(['deploy', 'r'])).toMatch(/^missing argument <target>/);
  expect(usageError(['autotag', 'r', 'extra'])).toBe('unexpected argument "extra"');
  expect(usageError(['autotag', 'r', '--mirror', 'x'])).toBe('gitenv autotag has no option --mirror (it belongs to gitenv deploy)');
  expect(usageError(['resolve', 'r', '--bogus'])).toBe('gitenv resolve has no option --bogus');
  expect(usageError(['resolve', 'r', '-x'])).toBe('gitenv resolve has no option -x');
  expect(usageError(['resolve', 'r', '--envs'])).toBe('option --envs needs at least one value: --envs GLOB [GLOB ...]');
  expect(usageError(['resolve', 'r', '--engine'])).toBe('option --engine needs a value: --engine builtin|micromamba');
  expect(usageError(['resolve', 'r', '--dry-run=yes'])).toBe('option --dry-run takes no value (got "yes")');
  expect(usageError(['frobnicate'])).toBe('unknown command "frobnicate"; the commands are resolve, autotag, label, deploy');
  expect(usageError([])).toBe('a command is required');
  expect(usageLine('label')).toBe('gitenv label <repo> <tag> [options]');
});

test('--help per command lists every option of that command with its meaning', () => {
  expect(parseCommandLine(['deploy', '--help'])).toMatchObject({ command: 'deploy', help: true });
  expect(parseCommandLine(['help', 'label'])).toMatchObject({ command: 'label', help: true });
  for (const command of ['resolve', 'autotag', 'label', 'deploy'] as const) {
    const text = helpText(command);
    for (const o of OPTIONS.filter((x) => x.phases.includes(command) && x.only !== 'action')) {
      expect(text).toContain(o.help);
      if (!o.positional) expect(text).toContain(`--${o.name}`);
    }
  }
  expect(helpText('resolve')).toContain('-k, --api-key KEY');
  expect(helpText('deploy')).toContain('-m, --mirror URL');
  expect(helpText()).toContain('deploy   deploy labelled tags');
});
