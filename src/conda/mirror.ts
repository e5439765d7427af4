/**
 * The old tool's mirror rule, its one home: a channel is read from `<mirror>/<last path segment of
 * the channel>` (`https://conda.anaconda.org/conda-forge` with mirror `https://m/conda` is
 * `https://m/conda/conda-forge`).
 */

/** `<mirror>/<last path segment of the channel>`. */
export function mirroredChannel(channel: string, mirror: string): string {
  const last = channel.replace(/\/+$/, '').split('/').pop() ?? '';
  return `${mirror.replace(/\/+$/, '')}/${last}`;
}

/** `<mirror>/<last path segment of the channel>/<subdir>/<fn>`: where a package is fetched from a mirror. */
export function mirroredUrl(channel: string, subdir: string, fn: string, mirror: string): string {
  return `${mirroredChannel(channel, mirror)}/${subdir}/${fn}`;
}
