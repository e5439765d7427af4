import { GitenvError } from '../util/errors.js';

/** One ref of `git push --porcelain` output. */
export interface PushedRef {
  /** ` ` fast-forward, `+` forced, `-` deleted, `*` new, `!` rejected, `=` up to date. */
  flag: string;
  src: string;
  dst: string;
  /** `[rejected]`, `[remote rejected]`, `[new tag]`, `abc..def`, ... */
  summary: string;
  /** The text in parentheses, e.g. `non-fast-forward`, `fetch first`, `already exists`. */
  reason?: string;
}

/** Parses the lines `<flag>\t<src>:<dst>\t<summary> (<reason>)` of `git push --porcelain`. */
export function parsePushPorcelain(stdout: string): PushedRef[] {
  const refs: PushedRef[] = [];
  for (const line of stdout.split('\n')) {
    const m = /^(.)\t([^\t]*):([^\t]*)\t(.*)$/.exec(line);
    if (!m) continue;
    const r = /^(.*?)(?: \((.*)\))?$/.exec(m[4]) as RegExpExecArray;
    refs.push({ flag: m[1], src: m[2], dst: m[3], summary: r[1], reason: r[2] });
  }
  return refs;
}

/**
 * Reasons meaning "the remote moved since we fetched": fetch, redo, push again. A receive-pack that
 * lost a race for a ref's lock answers "failed to update ref" for it, and "atomic transaction failed"
 * for the other refs of an atomic push: both mean someone pushed first.
 */
const STALE = /non-fast-forward|fetch first|stale info|already exists|atomic push failed|atomic transaction failed|failed to update ref|cannot lock ref|incorrect old value/i;

/** Whether a rejected ref was rejected because someone else pushed first. */
export function isStaleRejection(ref: PushedRef): boolean {
  return ref.flag === '!' && STALE.test(`${ref.summary} ${ref.reason ?? ''}`);
}

/** The remote refused some refs of a push. `stale` when every refusal is "someone pushed first". */
export class PushRejectedError extends GitenvError {
  readonly stale: boolean;
  constructor(
    readonly remote: string,
    readonly rejected: PushedRef[],
  ) {
    super(`git push to ${remote} was refused: ` + rejected.map((r) => `${r.dst} ${r.summary}${r.reason ? ` (${r.reason})` : ''}`).join('; '));
    this.stale = rejected.every(isStaleRejection);
  }
}
