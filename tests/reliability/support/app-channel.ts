/**
 * A small channel with everything the installer does in it: binary and text prefix replacement,
 * soft and hard links, an empty directory, modes, both archive formats, a post-link script, a larger
 * file, and enough files per package that a crash can land between any two of them.
 * Version 1 of the environment is libbase + tool 1 + data 1; version 2 swaps in tool 2 and data 2
 * and adds docs, extra-a (.tar.bz2), extra-b (post-link) and big.
 */
import { buildChannel, cString, PREFIX_TOKEN, type BuiltChannel, type BuiltPackage, type PackageSpec } from '../../fixtures/channel/index.js';

function numbered(dir: string, count: number, tag: string): Record<string, string> {
  const files: Record<string, string> = {};
  for (let i = 0; i < count; i++) files[`${dir}/f${String(i).padStart(2, '0')}.txt`] = `${tag} file ${i}\n`.repeat(i + 1);
  return files;
}

const PACKAGES: PackageSpec[] = [
  {
    name: 'libbase',
    version: '1.0',
    files: {
      'lib/libbase.so': { content: Buffer.concat([Buffer.from('\x7fELF-fixture\0'), cString(`${PREFIX_TOKEN}/lib`), Buffer.from('tail\0')]), prefix: 'binary', mode: 0o755 },
      'share/base/readme.txt': 'libbase\n',
    },
    softlinks: { 'lib/libbase.so.1': 'libbase.so' },
  },
  ...['1.0', '2.0'].map((version) => ({
    name: 'tool',
    version,
    depends: ['libbase'],
    files: { 'bin/tool': { content: `#!/bin/sh\n# tool ${version}\nexec "${PREFIX_TOKEN}/lib/libbase.so" "$@"\n`, prefix: 'text' as const, mode: 0o755 } },
  })),
  ...['1.0', '2.0'].map((version) => ({ name: 'data', version, files: numbered('share/data', 24, `data ${version}`) })),
  {
    name: 'docs',
    version: '2.0',
    files: numbered('share/doc', 10, 'docs'),
    hardlinks: { 'share/doc/same-as-f00.txt': 'share/doc/f00.txt' },
    directories: ['share/doc/empty'],
  },
  { name: 'extra-a', version: '2.0', format: 'tar.bz2', files: numbered('share/extra-a', 6, 'extra-a') },
  {
    name: 'extra-b',
    version: '2.0',
    depends: ['libbase'],
    files: numbered('share/extra-b', 6, 'extra-b'),
    postLink: 'echo "linked by $PKG_NAME $PKG_VERSION" > "$PREFIX/share/extra-b/post-link.txt"\n',
  },
  { name: 'big', version: '2.0', files: { 'share/big/blob.txt': 'the same line over and over again\n'.repeat(100_000) } },
];

export interface AppChannel {
  channel: BuiltChannel;
  v1: BuiltPackage[];
  v2: BuiltPackage[];
  /** fn -> sha256 of every archive in the channel. */
  sha256: Map<string, string>;
}

export async function buildAppChannel(dir: string): Promise<AppChannel> {
  const channel = await buildChannel(dir, PACKAGES);
  const pick = (names: string[]) =>
    names.map((id) => {
      const [name, version] = id.split('=');
      const p = channel.packages.find((x) => x.record.name === name && x.record.version === version);
      if (!p) throw new Error(`no ${id} in the app channel`);
      return p;
    });
  return {
    channel,
    v1: pick(['libbase=1.0', 'tool=1.0', 'data=1.0']),
    v2: pick(['libbase=1.0', 'tool=2.0', 'data=2.0', 'docs=2.0', 'extra-a=2.0', 'extra-b=2.0', 'big=2.0']),
    sha256: new Map(channel.packages.map((p) => [p.fn, p.sha256])),
  };
}
