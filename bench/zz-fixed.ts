import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { buildSeedChannel } from '../tests/fixtures/channel/index.js';
import { GitFixture } from '../tests/fixtures/git-repo.js';
const fx = await GitFixture.create();
const ch = await buildSeedChannel(path.join(fx.root, 'chan'));
await fx.commit('default', { 'env.spec': `channels:\n  - ${ch.url}\nenv:\n  - python 3.*\n` });
const time = (args: string[], env: NodeJS.ProcessEnv = {}) => { const t = performance.now(); const out = execFileSync(process.execPath, args, { env: { ...process.env, ...env, XDG_CACHE_HOME: path.join(fx.root, 'c') }, encoding: 'utf8' }); return [Math.round(performance.now() - t), out.trim().split('\n').slice(-1)[0]]; };
for (let i = 0; i < 3; i++) {
  console.log('node -e 0', time(['-e', '0']));
  console.log('--version', time(['dist/cli/index.js', '--version']));
  console.log('resolve --dry-run', time(['dist/cli/index.js', 'resolve', fx.origin, '--dry-run']));
  console.log('resolve --dry-run, 1 job', time(['dist/cli/index.js', 'resolve', fx.origin, '--dry-run'], { GITENV_SOLVER_JOBS: '1' }));
}
await fx.cleanup();
