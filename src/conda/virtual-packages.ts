/**
 * Virtual packages: what the solver treats as installed (`__glibc 2.28`), with defaults per
 * platform, overridable conda's way (`CONDA_OVERRIDE_<NAME>`; an empty value removes the package).
 */
import type { VirtualPackage } from './types.js';

/** Virtual package names start with two underscores; they are never installed nor written out. */
export function isVirtualPackage(name: string): boolean {
  return name.startsWith('__');
}

const ARCHSPEC: Record<string, string> = {
  '64': 'x86_64',
  '32': 'x86',
  aarch64: 'aarch64',
  arm64: 'arm64',
  ppc64le: 'ppc64le',
  ppc64: 'ppc64',
  s390x: 's390x',
  armv6l: 'armv6l',
  armv7l: 'armv7l',
  riscv64: 'riscv64',
  loong64: 'loong64',
};

/** The defaults for a platform before any override: what a typical HPC target offers. */
export function defaultVirtualPackages(platform: string): VirtualPackage[] {
  const [os, arch = ''] = platform.split('-', 2);
  const out: VirtualPackage[] = [];
  if (os === 'linux') {
    out.push({ name: '__glibc', version: '2.28', build: '0' });
    out.push({ name: '__linux', version: '5.14', build: '0' });
    out.push({ name: '__unix', version: '0', build: '0' });
  } else if (os === 'osx') {
    out.push({ name: '__osx', version: arch === 'arm64' ? '11.0' : '10.15', build: '0' });
    out.push({ name: '__unix', version: '0', build: '0' });
  } else if (os === 'win') {
    out.push({ name: '__win', version: '0', build: '0' });
  } else if (os === 'freebsd' || os === 'zos') {
    out.push({ name: '__unix', version: '0', build: '0' });
  }
  const archspec = ARCHSPEC[arch];
  if (archspec) out.push({ name: '__archspec', version: '1', build: archspec });
  return out;
}

/**
 * CONDA_OVERRIDE_* variable → the virtual package it sets, whether it may add one, and whether
 * micromamba drops the package for an empty value (the micromamba engine reads this table too).
 */
export const OVERRIDES: { variable: string; name: string; field: 'version' | 'build'; adds: boolean; removable: boolean }[] = [
  { variable: 'CONDA_OVERRIDE_GLIBC', name: '__glibc', field: 'version', adds: false, removable: true },
  { variable: 'CONDA_OVERRIDE_LINUX', name: '__linux', field: 'version', adds: false, removable: false },
  { variable: 'CONDA_OVERRIDE_OSX', name: '__osx', field: 'version', adds: false, removable: false },
  { variable: 'CONDA_OVERRIDE_WIN', name: '__win', field: 'version', adds: false, removable: false },
  { variable: 'CONDA_OVERRIDE_ARCHSPEC', name: '__archspec', field: 'build', adds: false, removable: false },
  { variable: 'CONDA_OVERRIDE_CUDA', name: '__cuda', field: 'version', adds: true, removable: true },
];

/**
 * The virtual packages for `platform` with the CONDA_OVERRIDE_* variables of `env` applied.
 * As in conda, an override only applies to packages the platform has (CUDA being the exception:
 * it adds `__cuda`), and an empty value removes the package.
 */
export function virtualPackages(platform: string, env: NodeJS.ProcessEnv = process.env): VirtualPackage[] {
  const packages = defaultVirtualPackages(platform);
  for (const o of OVERRIDES) {
    const value = env[o.variable];
    if (value === undefined) continue;
    const i = packages.findIndex((p) => p.name === o.name);
    if (value.trim() === '') {
      if (i >= 0) packages.splice(i, 1);
    } else if (i >= 0) {
      packages[i] = { ...packages[i], [o.field]: value.trim() };
    } else if (o.adds) {
      packages.push({ name: o.name, version: value.trim(), build: '0' });
    }
  }
  return packages.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
