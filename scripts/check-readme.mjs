// Fails when README.md's action tables differ from what scripts/gen-readme-tables.mjs would write.
// .ci/run runs it, so a changed action.yml without a regenerated README does not land.
import { readFileSync } from 'node:fs';
import { README, renderTables, updateReadme } from './gen-readme-tables.mjs';

const current = readFileSync(README, 'utf8');
let expected;
try {
  expected = updateReadme(current, renderTables());
} catch (err) {
  console.error(`check-readme: ${err.message}`);
  process.exit(1);
}
if (expected !== current) {
  const a = current.split('\n');
  const b = expected.split('\n');
  let i = 0;
  while (i < a.length && a[i] === b[i]) i++;
  console.error('check-readme: README.md action tables differ from the action.yml files.');
  console.error(`  first difference at line ${i + 1}:`);
  console.error(`    README:    ${a[i] ?? '(end of file)'}`);
  console.error(`    generated: ${b[i] ?? '(end of file)'}`);
  console.error('  Run `node scripts/gen-readme-tables.mjs` and commit README.md.');
  process.exit(1);
}
console.log('check-readme: README.md action tables match the action.yml files');
