/**
 * Conda platforms (subdirs): the ones an environment may be resolved for, and the one the machine
 * running gitenv is.
 */

/** The subdirs an env.spec may list under `platforms:` (`noarch` is always added, never listed). */
export const KNOWN_PLATFORMS = [
  'linux-64',
  'linux-aarch64',
  'linux-ppc64le',
  'linux-s390x',
  'linux-32',
  'linux-armv6l',
  'linux-armv7l',
  'osx-64',
  'osx-arm64',
  'win-64',
  'win-arm64',
  'win-32',
] as const;

export function isKnownPlatform(name: string): boolean {
  return (KNOWN_PLATFORMS as readonly string[]).includes(name);
}

const NODE_OS: Record<string, string> = { linux: 'linux', darwin: 'osx', win32: 'win' };
const NODE_ARCH: Record<string, string> = { x64: '64', arm64: 'aarch64', ppc64: 'ppc64le', s390x: 's390x', ia32: '32', arm: 'armv7l' };

/**
 * The conda subdir of a machine from Node's `process.platform` and `process.arch` (`linux`/`arm64`
 * → `linux-aarch64`, `darwin`/`arm64` → `osx-arm64`); undefined for a machine conda has no subdir for.
 */
export function machinePlatform(platform: string = process.platform, arch: string = process.arch): string | undefined {
  const os = NODE_OS[platform];
  if (!os) return undefined;
  const cpu = os === 'osx' && arch === 'arm64' ? 'arm64' : os === 'win' && arch === 'arm64' ? 'arm64' : NODE_ARCH[arch];
  if (!cpu) return undefined;
  const name = `${os}-${cpu}`;
  return isKnownPlatform(name) ? name : undefined;
}
