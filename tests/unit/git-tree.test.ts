import { parseTree } from '../../src/git/git-command-manager.js';

/** A raw tree object: `<mode> <name>\0<binary id>` per entry. */
const rawTree = (entries: [string, string, string][]) => Buffer.concat(entries.flatMap(([mode, name, hex]) => [Buffer.from(`${mode} ${name}\0`, 'utf8'), Buffer.from(hex, 'hex')]));

test('parses a SHA-1 tree as ls-tree lists it: modes padded, types from the mode', () => {
  const a = 'a'.repeat(40);
  const b = '0123456789abcdef0123456789abcdef01234567';
  const tree = rawTree([
    ['100644', 'current.txt', a],
    ['100755', 'run me.sh', b],
    ['40000', 'sub', a],
    ['120000', 'link', b],
    ['160000', 'module', a],
    ['100644', 'naïve.txt', b],
  ]);
  expect(parseTree(tree, 40)).toEqual([
    { mode: '100644', type: 'blob', sha: a, name: 'current.txt' },
    { mode: '100755', type: 'blob', sha: b, name: 'run me.sh' },
    { mode: '040000', type: 'tree', sha: a, name: 'sub' },
    { mode: '120000', type: 'blob', sha: b, name: 'link' },
    { mode: '160000', type: 'commit', sha: a, name: 'module' },
    { mode: '100644', type: 'blob', sha: b, name: 'naïve.txt' },
  ]);
});

test('parses SHA-256 ids, an empty tree, and refuses a truncated one', () => {
  const id = 'f'.repeat(30) + '00'.repeat(17);
  expect(parseTree(rawTree([['100644', 'x.txt', id]]), 64)).toEqual([{ mode: '100644', type: 'blob', sha: id, name: 'x.txt' }]);
  expect(parseTree(Buffer.alloc(0), 40)).toEqual([]);
  expect(() => parseTree(rawTree([['100644', 'x.txt', 'a'.repeat(40)]]).subarray(0, 20), 40)).toThrow('malformed tree object');
});
