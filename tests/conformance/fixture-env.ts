/**
 * The installer's fixture environment: a handful of real packages from the channel builder that
 * between them exercise every linking rule (text and binary prefix replacement, soft and hard links, no_link,
 * noarch python with an entry point, a post-link script, both archive
 * formats). The integration tests, the py-rattler conformance test and the benchmark install it.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import type { LockedPackage } from '../../src/conda/types.js';
import { buildChannel, cString, type BuiltChannel, type BuiltPackage, type PackageSpec } from '../fixtures/channel/index.js';

export interface SystemPython {
  executable: string;
  /** `3.11.7` */
  version: string;
  /** `3.11` */
  short: string;
}

/** The machine's python3, which the fixture `python` package wraps (the tests need one that runs). */
export function systemPython(): SystemPython | undefined {
  try {
    const out = execFileSync('python3', ['-c', 'import sys; print(sys.executable); print("%d.%d.%d" % sys.version_info[:3])'], {
      encoding: 'utf8',
    });
    const [executable, version] = out.trim().split('\n');
    return { executable, version, short: version.split('.').slice(0, 2).join('.') };
  } catch {
    return undefined;
  }
}

/** A `python` package whose bin/python runs the machine's python with the prefix's site-packages. */
export function pythonPackage(py: SystemPython): PackageSpec {
  const wrapper =
    '#!/bin/sh\n' +
    '# Stand-in python of the fixture environment, installed into @PREFIX@\n' +
    'prefix="$(cd "$(dirname "$0")/.." && pwd -P)"\n' +
    `PYTHONPATH="$prefix/lib/python${py.short}/site-packages\${PYTHONPATH:+:$PYTHONPATH}" exec "${py.executable}" "$@"\n`;
  return {
    name: 'python',
    version: py.version,
    build: 'h0_fixture',
    format: 'tar.bz2',
    files: {
      'bin/python': { content: wrapper, mode: 0o755, prefix: 'text' },
      [`lib/python${py.short}/site-packages/README.txt`]: 'site-packages of the fixture python\n',
    },
    softlinks: { 'bin/python3': 'python', [`bin/python${py.short}`]: 'python' },
  };
}

/** The fixture environment's packages (without python), dependencies first. */
export function fixturePackages(py: SystemPython): PackageSpec[] {
  return [
    {
      name: 'libfoo',
      version: '1.2.3',
      build: 'h1234_0',
      files: {
        'lib/libfoo.so.1': {
          content: Buffer.concat([Buffer.from('\x7fELF\x02\x01\x01fake'), cString('@PREFIX@/share/foo'), cString('rpath=@PREFIX@/lib:@PREFIX@/lib64'), Buffer.from('tail\0')]),
          mode: 0o755,
          prefix: 'binary',
        },
        'bin/foo-config': { content: '#!/bin/sh\necho "prefix=@PREFIX@ libdir=@PREFIX@/lib"\n', mode: 0o755, prefix: 'text' },
        'share/foo/data.txt': 'plain data, linked as it is\n',
        'etc/foo.conf': { content: 'copied, never linked\n', noLink: true },
        'bin/foo-readonly': { content: '#!/bin/sh\necho read-only\n', mode: 0o555 },
      },
      softlinks: { 'lib/libfoo.so': 'libfoo.so.1', 'share/foo/link-to-data.txt': 'data.txt' },
      hardlinks: { 'share/foo/data-hardlink.txt': 'share/foo/data.txt' },
    },
    pythonPackage(py),
    {
      name: 'greet',
      version: '0.4.0',
      noarch: 'python',
      depends: ['python'],
      entryPoints: ['greet = greet.cli:main'],
      files: {
        'site-packages/greet/__init__.py': '__version__ = "0.4.0"\n',
        'site-packages/greet/cli.py': 'def main():\n    print("hello from greet")\n    return 0\n',
        'python-scripts/greet-helper': { content: '#!/bin/sh\necho helper\n', mode: 0o755 },
      },
    },
    {
      name: 'postie',
      version: '2.0',
      build_number: 3,
      build: 'h5678_3',
      format: 'tar.bz2',
      depends: ['libfoo'],
      files: { 'share/postie/README': 'postie\n' },
      postLink: 'echo "$PKG_NAME $PKG_VERSION $PKG_BUILDNUM" > "$PREFIX/share/postie/post-link-ran.txt"\n',
    },
  ];
}

/** What an env.lock line gives the installer, for a package in a channel served at `channelUrl`. */
export function lockedPackage(p: BuiltPackage, channelUrl: string): LockedPackage {
  return {
    url: `${channelUrl}/${p.subdir}/${p.fn}`,
    channel: channelUrl,
    subdir: p.subdir,
    fn: p.fn,
    dist: p.dist,
    sha256: p.sha256,
    md5: p.md5,
    size: p.size,
  };
}

export interface FixtureEnv {
  channel: BuiltChannel;
  /** The packages in dependency order, with file:// URLs. */
  packages: LockedPackage[];
  python: SystemPython;
}

/** Builds the fixture channel into `dir`; undefined when the machine has no python3. */
export async function buildFixtureEnv(dir: string, extra: PackageSpec[] = []): Promise<FixtureEnv | undefined> {
  const python = systemPython();
  if (!python) return undefined;
  const channel = await buildChannel(path.join(dir, 'fixture-channel'), [...fixturePackages(python), ...extra]);
  return { channel, packages: channel.packages.map((p) => lockedPackage(p, channel.url)), python };
}
