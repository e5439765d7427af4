import { defaultVirtualPackages, isVirtualPackage, virtualPackages } from '../../src/conda/virtual-packages.js';

const asText = (ps: { name: string; version: string; build: string }[]) => ps.map((p) => `${p.name} ${p.version} ${p.build}`);

test('linux-64 defaults', () => {
  expect(asText(virtualPackages('linux-64', {}))).toEqual(['__archspec 1 x86_64', '__glibc 2.28 0', '__linux 5.14 0', '__unix 0 0']);
});

test('other platforms get their own', () => {
  expect(asText(virtualPackages('osx-arm64', {}))).toEqual(['__archspec 1 arm64', '__osx 11.0 0', '__unix 0 0']);
  expect(asText(virtualPackages('win-64', {}))).toEqual(['__archspec 1 x86_64', '__win 0 0']);
  expect(asText(virtualPackages('linux-aarch64', {}))).toContain('__archspec 1 aarch64');
  expect(defaultVirtualPackages('noarch')).toEqual([]);
});

test('CONDA_OVERRIDE_* change, add (__cuda) and remove (empty value)', () => {
  const ps = virtualPackages('linux-64', {
    CONDA_OVERRIDE_GLIBC: '2.17',
    CONDA_OVERRIDE_CUDA: '12.2',
    CONDA_OVERRIDE_LINUX: '',
    CONDA_OVERRIDE_ARCHSPEC: 'x86_64_v3',
    CONDA_OVERRIDE_OSX: '13.0',
  });
  expect(asText(ps)).toEqual(['__archspec 1 x86_64_v3', '__cuda 12.2 0', '__glibc 2.17 0', '__unix 0 0']);
  expect(asText(virtualPackages('osx-64', { CONDA_OVERRIDE_OSX: '12.1', CONDA_OVERRIDE_CUDA: '' }))).toEqual(['__archspec 1 x86_64', '__osx 12.1 0', '__unix 0 0']);
});

test('isVirtualPackage', () => {
  expect(isVirtualPackage('__glibc')).toBe(true);
  expect(isVirtualPackage('python')).toBe(false);
});
