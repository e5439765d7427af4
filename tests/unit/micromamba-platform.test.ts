import { atLeast, parseMicromambaVersion } from '../../src/engines/micromamba-command.js';
import { expandUrlTemplate, micromambaExeName, micromambaPlatform } from '../../src/setup/micromamba-platform.js';

describe('micromamba platform names', () => {
  test.each([
    ['linux', 'x64', 'linux-64'],
    ['linux', 'arm64', 'linux-aarch64'],
    ['linux', 'ppc64', 'linux-ppc64le'],
    ['darwin', 'x64', 'osx-64'],
    ['darwin', 'arm64', 'osx-arm64'],
    ['win32', 'x64', 'win-64'],
  ])('%s/%s is %s', (platform, arch, name) => {
    expect(micromambaPlatform(platform, arch)).toBe(name);
  });

  test('an unpublished platform is a configuration error', () => {
    expect(() => micromambaPlatform('win32', 'ia32')).toThrow(/not published for win32\/ia32/);
  });

  test('executable name', () => {
    expect(micromambaExeName('win32')).toBe('micromamba.exe');
    expect(micromambaExeName('linux')).toBe('micromamba');
  });
});

describe('download URL template', () => {
  test('every {version} and {platform} is replaced', () => {
    expect(expandUrlTemplate('https://m.example/{version}/{platform}/micromamba-{version}-{platform}', '2.3.3-0', 'linux-64')).toBe('https://m.example/2.3.3-0/linux-64/micromamba-2.3.3-0-linux-64');
  });

  test('not http(s) is refused without echoing credentials', () => {
    expect(() => expandUrlTemplate('ftp://u:secret@m.example/{version}', '1', 'x')).toThrow(/micromamba-url/);
    expect(() => expandUrlTemplate('ftp://u:secret@m.example/{version}', '1', 'x')).not.toThrow(/secret/);
  });
});

describe('micromamba --version', () => {
  test('parsed, and compared', () => {
    const v = parseMicromambaVersion('2.3.3\n')!;
    expect(v).toEqual({ major: 2, minor: 3, patch: 3, text: '2.3.3' });
    expect(atLeast(v, 2, 1, 0)).toBe(true);
    expect(atLeast(v, 2, 3, 4)).toBe(false);
    expect(atLeast(parseMicromambaVersion('1.4.0')!, 1, 4, 1)).toBe(false);
    expect(parseMicromambaVersion('nonsense')).toBeUndefined();
  });
});
