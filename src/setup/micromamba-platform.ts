/**
 * micromamba's names for the machine it runs on, and the download URL built from a template.
 */
import { ConfigurationError } from '../util/errors.js';
import { redactUrls } from '../util/secrets.js';

const PLATFORMS: Record<string, string> = {
  'linux-x64': 'linux-64',
  'linux-arm64': 'linux-aarch64',
  'linux-ppc64': 'linux-ppc64le',
  'darwin-x64': 'osx-64',
  'darwin-arm64': 'osx-arm64',
  'win32-x64': 'win-64',
};

/** micromamba's platform name (`linux-64`, `osx-arm64`, ...) for a Node platform and arch. */
export function micromambaPlatform(platform: string = process.platform, arch: string = process.arch): string {
  const name = PLATFORMS[`${platform}-${arch}`];
  if (!name) {
    throw new ConfigurationError(`micromamba is not published for ${platform}/${arch}; supported: ${Object.values(PLATFORMS).join(', ')}`);
  }
  return name;
}

/** The executable's file name on this platform. */
export function micromambaExeName(platform: string = process.platform): string {
  return platform === 'win32' ? 'micromamba.exe' : 'micromamba';
}

/** Expands `{version}` and `{platform}` in a download URL template (both may appear several times). */
export function expandUrlTemplate(template: string, version: string, platform: string): string {
  if (!/^https?:\/\//i.test(template)) {
    throw new ConfigurationError(`Input micromamba-url must be an http(s) URL template, got "${redactUrls(template)}"`);
  }
  return template.split('{version}').join(version).split('{platform}').join(platform);
}
