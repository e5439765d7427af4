/**
 * V8 settings of the whole process, for work that moves much data through ArrayBuffers.
 */
import v8 from 'node:v8';

let counted = false;

/**
 * Counts external memory (ArrayBuffers, Buffers, WASM memories) within V8's global heap limit rather
 * than against a limit of its own. By the separate limit, every few tens of megabytes of Buffers
 * allocated start a full garbage collection, however little of the heap is alive: a cold install
 * moves each archive's bytes through three sets of Buffers (the download, the decompressed tar, the
 * files), and the WASM solver's memory grows in small steps, each a new ArrayBuffer. Process-wide,
 * threads started afterwards included; V8 13 (Node 24) and later (older V8 does not know the flag and
 * would say so on stderr).
 */
export function countExternalMemoryInHeapLimit(): void {
  if (counted || Number(process.versions.v8.split('.')[0]) < 13) return;
  counted = true;
  v8.setFlagsFromString('--external-memory-accounted-in-global-limit');
}
