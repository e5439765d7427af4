import { cell, code, raw, section, table } from '../../src/summary/markdown.js';

test('cells escape pipes, new lines and HTML', () => {
  expect(cell('a|b\nc <d>')).toBe('a\\|b<br>c &lt;d&gt;');
  expect(cell(undefined)).toBe('');
  expect(cell(3)).toBe('3');
});

test('inline code copes with backticks', () => {
  expect(code('env-x')).toBe('`env-x`');
  expect(code('a`b')).toBe('``a`b``');
  expect(code('`a')).toBe('`` `a ``');
});

test('tables render headers, a rule and rows; raw cells are kept', () => {
  expect(
    table(
      ['Env', 'Tag'],
      [
        ['default', raw(code('env-default-2015_11_12'))],
        ['x|y', undefined],
      ],
    ),
  ).toBe('| Env | Tag |\n| --- | --- |\n| default | `env-default-2015_11_12` |\n| x\\|y |  |\n');
  expect(section('autotag', 'body')).toBe('### autotag\n\nbody\n');
});
