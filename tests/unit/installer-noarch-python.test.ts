import { entryPointScript, noarchTarget, parseEntryPoint, pycPath, pythonShebang, pythonShortVersion } from '../../src/installer/noarch-python.js';
import { parseHasPrefix, LEGACY_PLACEHOLDER } from '../../src/installer/package-info.js';
import { PackageError } from '../../src/util/errors.js';

test('noarch python paths move under the environment python', () => {
  expect(noarchTarget('site-packages/pkg/__init__.py', '3.12')).toBe('lib/python3.12/site-packages/pkg/__init__.py');
  expect(noarchTarget('python-scripts/tool', '3.12')).toBe('bin/tool');
  expect(noarchTarget('share/doc/x', '3.12')).toBe('share/doc/x');
  expect(pythonShortVersion('3.12.1')).toBe('3.12');
  expect(pythonShortVersion('3.13.0rc1')).toBe('3.13');
  expect(() => pythonShortVersion('abc')).toThrow();
});

test('entry points are read as conda reads them; a bad one names the package', () => {
  expect(parseEntryPoint('greet = greet.cli:main', 'g')).toEqual({ name: 'greet', module: 'greet.cli', func: 'main' });
  expect(parseEntryPoint('x=a:b.c', 'g')).toEqual({ name: 'x', module: 'a', func: 'b.c' });
  expect(() => parseEntryPoint('no colon = x', 'greet-1-0')).toThrow(PackageError);
  expect(() => parseEntryPoint('../evil = a:b', 'greet-1-0')).toThrow('greet-1-0');
});

describe('the entry point script', () => {
  test('a short prefix gets a plain shebang to bin/pythonX.Y', () => {
    expect(pythonShebang('/opt/env', '3.12')).toBe('#!/opt/env/bin/python3.12\n');
  });

  test('a prefix with a space or beyond 127 bytes gets the /bin/sh trampoline', () => {
    expect(pythonShebang('/opt/my env', '3.12')).toBe(`#!/bin/sh\n'''exec' "/opt/my env/bin/python3.12" "$0" "$@" #'''\n`);
    const long = '/' + 'd'.repeat(120);
    expect(pythonShebang(long, '3.12').startsWith('#!/bin/sh\n')).toBe(true);
  });

  test("the body is conda's: import the first name, call the function, strip -script.py from argv[0]", () => {
    const script = entryPointScript({ name: 'x', module: 'pkg.mod', func: 'obj.run' }, '/e', '3.11');
    expect(script).toBe(
      '#!/e/bin/python3.11\n' +
        '# -*- coding: utf-8 -*-\n' +
        'import re\n' +
        'import sys\n\n' +
        'from pkg.mod import obj\n\n' +
        "if __name__ == '__main__':\n" +
        "    sys.argv[0] = re.sub(r'(-script\\.pyw?|\\.exe)?$', '', sys.argv[0])\n" +
        '    sys.exit(obj.run())\n',
    );
  });
});

test('pyc files go to __pycache__ with the interpreter tag', () => {
  expect(pycPath('lib/python3.12/site-packages/p/m.py', 'cpython-312')).toBe('lib/python3.12/site-packages/p/__pycache__/m.cpython-312.pyc');
});

test('has_prefix lines: bare paths take the legacy placeholder; quoted fields keep their spaces', () => {
  expect(parseHasPrefix(['bin/tool', '/opt/ph binary lib/libx.so', '"/opt/p h" text "share/a b.txt"'])).toEqual([
    { placeholder: LEGACY_PLACEHOLDER, mode: 'text', path: 'bin/tool' },
    { placeholder: '/opt/ph', mode: 'binary', path: 'lib/libx.so' },
    { placeholder: '/opt/p h', mode: 'text', path: 'share/a b.txt' },
  ]);
});
