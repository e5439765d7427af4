import { commitMessage, diffManifests, formatChange } from '../../src/manifest/diff.js';

const CF = 'https://conda.anaconda.org/conda-forge';

test('added, removed and changed packages, sorted by name', () => {
  const before = `${CF}/linux-64\tnumpy-1.26.4-py312_0\n${CF}/linux-64\tpython-3.12.1-h0_0\n${CF}/noarch\tsix-1.16.0-pyh_0\n`;
  const after = `${CF}/linux-64\tnumpy-2.0.0-py312_0\n${CF}/linux-64\tpython-3.12.1-h0_0\n${CF}/linux-64\tzlib-1.3-h0_0\n`;
  const diff = diffManifests(before, after);
  expect(diff.changes.map(formatChange)).toEqual(['~ numpy 1.26.4 py312_0 -> 2.0.0 py312_0', '- six 1.16.0 pyh_0', '+ zlib 1.3 h0_0']);
  expect([diff.added, diff.removed, diff.changed]).toEqual([1, 1, 1]);
});

test('an old-format manifest (spaces, trailing slash) equal to the new one gives no change', () => {
  const old = `${CF}/linux-64/    python-2.7.15-h1571d57_0\n${CF}/noarch/  six-1.11.0-py_1\n`;
  const now = `${CF}/linux-64\tpython-2.7.15-h1571d57_0\n${CF}/noarch\tsix-1.11.0-py_1\n`;
  expect(diffManifests(old, now).changes).toEqual([]);
  const newer = `${CF}/linux-64\tpython-2.7.18-h0_0\n${CF}/noarch\tsix-1.11.0-py_1\n`;
  expect(diffManifests(old, newer).changes.map(formatChange)).toEqual(['~ python 2.7.15 h1571d57_0 -> 2.7.18 h0_0']);
});

test('no previous manifest: everything is added', () => {
  const diff = diffManifests(undefined, `${CF}/linux-64\tpython-3.12.1-h0_0\n`);
  expect(diff.changes.map(formatChange)).toEqual(['+ python 3.12.1 h0_0']);
});

test('the same build from another channel is a change', () => {
  const diff = diffManifests(`${CF}/linux-64\tzlib-1.3-h0_0\n`, `https://mirror.example.org/cf/linux-64\tzlib-1.3-h0_0\n`);
  expect(diff.changes.map(formatChange)).toEqual([`~ zlib 1.3 h0_0 (${CF}/linux-64) -> 1.3 h0_0 (https://mirror.example.org/cf/linux-64)`]);
});

test('commitMessage: title line, blank line, change lines', () => {
  const diff = diffManifests(undefined, `${CF}/linux-64\tpython-3.12.1-h0_0\n`);
  expect(commitMessage('default', diff)).toBe('Manifest update for default\n\n+ python 3.12.1 h0_0\n');
  expect(commitMessage('default', diffManifests('', ''), 'env.spec changed')).toBe('Manifest update for default\n\nenv.spec changed\n');
});
