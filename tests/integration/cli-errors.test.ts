/**
 * Errors that say what to do, through the CLI bundle: git's own reason always shown (credentials
 * scrubbed), git's "dubious ownership" with the safe.directory remedy, a permission refusal naming
 * the path and the user, a bug with its stack and an exit code of its own, and a closed pipe that
 * ends quietly.
 */
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { main } from '../../src/cli.js';
import { EXIT_BUG, reportError } from '../../src/phases/error-report.js';
import { CommandError, ConfigurationError } from '../../src/util/errors.js';
import { MemoryLogger } from '../../src/util/logger.js';
import { ensureBundles } from '../fixtures/bundles.js';
import { cleanEnv, runNode, untaggedDefault, type Ran } from '../fixtures/git-frontends.js';
import type { GitFixture } from '../fixtures/git-repo.js';

let cli: string;
let fx: GitFixture;
const gitenv = (args: string[], env: NodeJS.ProcessEnv = {}) => runNode([cli, ...args], cleanEnv({ RUNNER_TEMP: fx.root, ...env }));

function sh(script: string, env: NodeJS.ProcessEnv): Promise<Ran> {
  return new Promise((resolve) => {
    execFile('bash', ['-c', script], { env }, (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }));
  });
}

beforeAll(async () => {
  cli = (await ensureBundles(['cli'])).cli;
}, 300_000);
beforeEach(async () => {
  fx = await untaggedDefault();
});
afterEach(async () => {
  await fx.cleanup();
});

test("git's own reason is shown without any debug switch; credentials in the URL are not", async () => {
  const missing = await gitenv(['autotag', `file://${fx.root}/no-such-repo.git`]);
  expect(missing.code).toBe(1);
  expect(missing.stderr).toContain('does not appear to be a git repository');
  expect(missing.stderr).not.toContain('debug:');

  const refused = await gitenv(['autotag', 'http://someone:pa55word-xyz@127.0.0.1:9/x.git']);
  expect(refused.code).toBe(1);
  expect(refused.stderr).toMatch(/Failed to connect|Connection refused|Couldn't connect/);
  expect(refused.stderr).not.toContain('pa55word-xyz');
});

test("dubious ownership: git's words and the safe.directory remedy", async () => {
  await fs.chown(fx.origin, 65534, 65534);
  for (const entry of await fs.readdir(fx.origin, { recursive: true })) await fs.lchown(path.join(fx.origin, entry), 65534, 65534);
  const ran = await gitenv(['autotag', fx.origin]);
  expect(ran.code).toBe(1);
  expect(ran.stderr).toContain(`detected dubious ownership in repository at '${fx.origin}'`);
  expect(ran.stderr).toContain(
    `hint: the repository belongs to another user than the one gitenv runs as (root (uid 0)); if you trust it, run: git config --global --add safe.directory '${fx.origin}'`,
  );
});

test('a directory the user may not write: the path and the user are named', async () => {
  // Run as nobody, with a RUNNER_TEMP that belongs to root.
  const locked = path.join(fx.root, 'locked');
  await fs.mkdir(locked, { mode: 0o755 });
  await fs.chmod(fx.root, 0o755);
  const ran = await sh(`exec setpriv --reuid=65534 --regid=65534 --clear-groups "${process.execPath}" "${cli}" autotag "${fx.origin}"`, cleanEnv({ RUNNER_TEMP: locked, HOME: locked }));
  expect(ran.code).toBe(1);
  expect(ran.stderr).toMatch(
    new RegExp(`^error: gitenv autotag: permission denied: mkdtemp ${locked}/\\S+ \\(gitenv runs as nobody \\(uid 65534\\)\\); give that user access, or choose another directory$`, 'm'),
  );
});

test('a closed pipe (| head -1, | true) ends quietly and leaves nothing behind', async () => {
  for (let i = 0; i < 20; i++) await fx.commit(`manifest/env${i}`, { 'env.manifest': 'a\n' }, { date: '2015-11-12T10:00:00Z' });
  for (let i = 0; i < 20; i++) await fx.commit(`env${i}`, { 'env.spec': 'channels: [x]\nenv: [y]\n' });
  const temp = path.join(fx.root, 'runner-temp');
  await fs.mkdir(temp);
  const env = cleanEnv({ RUNNER_TEMP: temp });
  for (const reader of ['head -1', 'true']) {
    const ran = await sh(`set -o pipefail; "${process.execPath}" "${cli}" autotag --dry-run "${fx.origin}" | ${reader}`, env);
    expect({ reader, code: ran.code, stderr: ran.stderr }).toEqual({ reader, code: 0, stderr: '' });
    expect(await fs.readdir(temp)).toEqual([]);
  }
});

test('a bug prints its stack and exits with its own code; a user error does not', async () => {
  const logger = new MemoryLogger();
  logger.info = () => {
    throw new TypeError("Cannot read properties of undefined (reading 'x')");
  };
  expect(await main(['--version'], logger as never)).toBe(EXIT_BUG);
  expect(EXIT_BUG).not.toBe(1);
  const text = logger.lines('error').join('\n');
  expect(text).toContain('unexpected error (a bug in gitenv');
  expect(text).toMatch(/TypeError: Cannot read properties of undefined \(reading 'x'\)\n\s+at /);

  expect(reportError(new ConfigurationError('Input keep must be a whole number'))).toEqual({ message: 'Input keep must be a whole number', bug: false });
  const git = reportError(new CommandError('git', ['fetch'], 128, "fatal: unable to access 'https://u:tok3n@host/x.git/': The requested URL returned error: 403"));
  expect(git.message).not.toContain('tok3n');
  expect(git.message).toContain('The requested URL returned error: 403');
});
