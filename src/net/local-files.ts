/**
 * Local files answered as HTTP responses, so that one fetch serves http(s), file:// and plain
 * paths alike (the WASM solver and the installer never see the difference).
 */
import { promises as fs } from 'node:fs';

/**
 * A Response made here has no `url` unless we give it one, and the WASM side of the solver
 * throws "url parse" on an empty one.
 */
export function withUrl(response: Response, url: string): Response {
  Object.defineProperty(response, 'url', { value: url });
  return response;
}

export function notFound(url: string): Response {
  return withUrl(new Response('not found', { status: 404, statusText: 'Not Found' }), url);
}

/** The file at `filePath` as a 200 response claiming to come from `url`, or a 404. */
export async function fileResponse(filePath: string, url: string): Promise<{ response: Response; bytes: number }> {
  let body: Buffer;
  try {
    body = await fs.readFile(filePath);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EISDIR' || code === 'ENOTDIR') return { response: notFound(url), bytes: 0 };
    throw err;
  }
  const response = new Response(new Uint8Array(body), {
    status: 200,
    headers: { 'content-length': String(body.length) },
  });
  return { response: withUrl(response, url), bytes: body.length };
}
