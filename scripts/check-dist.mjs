// The committed dist/ must be exactly what a fresh build of the committed source gives.
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';

// `--no-build`: the caller has just run the build (CI does, right before); only compare.
if (!process.argv.includes('--no-build')) {
  rmSync('dist', { recursive: true, force: true });
  execFileSync(process.execPath, ['scripts/build.mjs'], { stdio: 'inherit' });
}
const status = execFileSync('git', ['status', '--porcelain', '--untracked-files=all', '--', 'dist'], { encoding: 'utf8' });
if (status.trim() !== '') {
  console.error('dist/ differs from a fresh build of the source. Run `npm run build` and commit dist/:');
  console.error(status);
  const diff = execFileSync('git', ['diff', '--stat', '--', 'dist'], { encoding: 'utf8' });
  console.error(diff);
  process.exit(1);
}
console.log('dist/ equals a fresh build.');
