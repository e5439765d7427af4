/**
 * A site's script written for conda-gitenv, run unchanged against gitenv. `conda gitenv <cmd>` runs
 * the executable `conda-gitenv` on PATH (conda's external subcommands), which is what the script
 * calls here: the gitenv CLI bundle under that name. Every flag of the old argparse interface is
 * used, long (with `_`) and short, lists given as several values after one flag and as a repeated
 * flag. Real git (a bare origin), the seed channel served over loopback HTTP demanding basic auth,
 * and a mirror server that must receive the package downloads.
 */
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { ensureBundles } from '../fixtures/bundles.js';
import { buildSeedChannel, serveChannel, type ChannelServer } from '../fixtures/channel/index.js';
import { cleanEnv } from '../fixtures/git-frontends.js';
import { GitFixture } from '../fixtures/git-repo.js';

const SCRIPT = `#!/bin/sh
# nightly-environments.sh, as the site wrote it for conda-gitenv
set -e
conda gitenv resolve "$ENV_REPO" --api_key "$API_KEY" --api_user "$API_USER" --envs default legacy --verbose
TAGS=$(conda gitenv autotag "$ENV_REPO")
echo "$TAGS"
TAG=$(echo "$TAGS" | sed -n 's/^Pushing tag \\(env-default-.*\\)$/\\1/p')
LEGACY_TAG=$(echo "$TAGS" | sed -n 's/^Pushing tag \\(env-legacy-.*\\)$/\\1/p')
conda gitenv label "$ENV_REPO" "$TAG"
conda gitenv deploy "$ENV_REPO" "$TARGET" --api_key "$API_KEY" --api_user "$API_USER" --env_labels 'default/*' legacy/latest --mirror "$MIRROR"
conda gitenv resolve "$ENV_REPO" -k "$API_KEY" -u "$API_USER" -e default -e legacy -v
conda gitenv label "$ENV_REPO" "$LEGACY_TAG" --next-only
conda gitenv deploy "$ENV_REPO" "$TARGET" -k "$API_KEY" -u "$API_USER" --env_labels legacy/next default/next -m "$MIRROR"
echo done
`;

/** `conda gitenv ...` → `conda-gitenv ...`, as conda itself dispatches an external subcommand. */
const CONDA = `#!/bin/sh
sub="$1"; shift
exec "conda-$sub" "$@"
`;

let fx: GitFixture;
let channelServer: ChannelServer;
let mirrorServer: ChannelServer;
let bin: string;

beforeAll(async () => {
  const cli = (await ensureBundles(['cli'])).cli;
  fx = await GitFixture.create();
  const channels = path.join(fx.root, 'channels');
  await buildSeedChannel(path.join(channels, 'seed'));
  await fs.mkdir(path.join(fx.root, 'mirror-root'));
  await fs.symlink(channels, path.join(fx.root, 'mirror-root', 'mirror'));
  channelServer = await serveChannel(channels, { auth: { user: 'site-user', password: 'site-key-123' } });
  mirrorServer = await serveChannel(path.join(fx.root, 'mirror-root'));
  bin = path.join(fx.root, 'bin');
  await fs.mkdir(bin);
  await fs.symlink(cli, path.join(bin, 'conda-gitenv'));
  await fs.writeFile(path.join(bin, 'conda'), CONDA, { mode: 0o755 });
  await fs.writeFile(path.join(fx.root, 'nightly.sh'), SCRIPT, { mode: 0o755 });
  const spec = (pkgs: string[]) => `channels:\n  - ${channelServer.url}/seed\nenv:\n${pkgs.map((p) => `  - ${p}\n`).join('')}`;
  await fx.commit('default', { 'env.spec': spec(['python 3.11.*', 'pyhello']) });
  await fx.commit('legacy', { 'env.spec': spec(['python 2.*']) });
  await fx.commit('other', { 'env.spec': spec(['python 3.11.*']) });
}, 300_000);
afterAll(async () => {
  await channelServer?.close();
  await mirrorServer?.close();
  await fx?.cleanup();
});

test("the old tool's command lines, every flag, run unchanged", async () => {
  const target = path.join(fx.root, 'environments');
  const env = cleanEnv({
    PATH: `${bin}${path.delimiter}${process.env.PATH}`,
    ENV_REPO: fx.origin,
    TARGET: target,
    API_USER: 'site-user',
    API_KEY: 'site-key-123',
    MIRROR: `${mirrorServer.url}/mirror`,
    RUNNER_TEMP: fx.root,
  });
  const ran = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile('sh', [path.join(fx.root, 'nightly.sh')], { env, maxBuffer: 16 << 20 }, (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }));
  });
  expect(ran.stderr).not.toContain('site-key-123');
  expect({ code: ran.code, stderr: ran.code === 0 ? '' : ran.stderr }).toEqual({ code: 0, stderr: '' });
  const lines = ran.stdout.split('\n');
  // --envs default legacy: `other` was not resolved.
  expect(lines).toEqual(expect.arrayContaining(['Pushing changes to manifest/default', 'Pushing changes to manifest/legacy']));
  expect(ran.stdout).not.toContain('manifest/other');
  const tag = lines.find((l) => /^Pushing tag env-default-/.test(l))?.slice('Pushing tag '.length) as string;
  expect(tag).toMatch(/^env-default-\d{4}_\d{2}_\d{2}$/);
  // --verbose / -v: debug lines on stderr.
  expect(ran.stderr).toMatch(/^debug: git /m);
  // the progression, and --next-only.
  const legacyTag = lines.find((l) => /^Pushing tag env-legacy-/.test(l))?.slice('Pushing tag '.length) as string;
  expect(await fx.show('default', 'labels/next.txt')).toBe(tag);
  expect(await fx.show('legacy', 'labels/next.txt')).toBe(legacyTag);
  // deploy: --env_labels 'default/*' legacy/latest, then legacy/next default/next.
  const name = tag.replace(/^env-default-/, '');
  expect(await fs.readlink(path.join(target, 'default', 'latest'))).toBe(name);
  expect(await fs.readlink(path.join(target, 'default', 'next'))).toBe(name);
  expect(await fs.readdir(path.join(target, 'legacy'))).toEqual(expect.arrayContaining(['latest', 'next']));
  expect(lines).toContain(`Linking legacy/next to ${legacyTag}`);
  // deploy names what it fetches, as the old tool did.
  expect(lines).toEqual(expect.arrayContaining([expect.stringMatching(/^Fetching python-3\.11\.4-/), expect.stringMatching(/^Fetching python-2\.7\./)]));
  // --mirror / -m: the packages came from the mirror; the channel served only repodata.
  expect(mirrorServer.requests.some((r) => /\/mirror\/seed\/.+\.(conda|tar\.bz2)$/.test(r.path) && r.status === 200)).toBe(true);
  expect(channelServer.requests.some((r) => /\.(conda|tar\.bz2)$/.test(r.path))).toBe(false);
  // --api_key/--api_user and -k/-u: the channel demanded them, every repodata request carried them.
  const repodata = channelServer.requests.filter((r) => r.path.endsWith('repodata.json'));
  expect(repodata.length).toBeGreaterThan(0);
  expect(repodata.every((r) => r.status !== 401)).toBe(true);
  expect(lines[lines.length - 2]).toBe('done');
}, 300_000);
