/**
 * What a worker thread of gitenv loads. In the committed bundles that is the entry bundle itself
 * (each entry hands over to the thread's job when it finds itself in a worker); from the TypeScript
 * sources (tsx, jest) it is the module named by `tsSource`, loaded through tsx's ESM API.
 */
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';

/**
 * `here` is the caller's `import.meta.url`; `tsSource` the worker's module relative to it, used only
 * when running from sources.
 */
export function threadEntry(here: string, tsSource: string): { entry: string; tsx?: string } {
  if (!/\.ts$/.test(new URL(here).pathname)) return { entry: here };
  const require = createRequire(here);
  // tsx's ESM API (the `import` condition of tsx/esm/api, which require.resolve would not pick).
  const tsx = path.join(path.dirname(require.resolve('tsx/package.json')), 'dist', 'esm', 'api', 'index.mjs');
  return { entry: new URL(tsSource, here).href, tsx: pathToFileURL(tsx).href };
}
