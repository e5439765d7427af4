/**
 * docs/walkthrough.md runs as written: its shell blocks (```sh) and the `$ command` lines of its
 * output blocks run in order in one bash, in a temporary directory standing in for
 * /tmp/gitenv-walkthrough, and each command prints the lines the doc shows. What differs from run to
 * run is normalised on both sides: the date in tag names, timings, `ls -l`'s owners and times, and
 * sha256 digests (the python stand-in embeds this machine's python path); downloads run side by side,
 * so their `Fetching` lines are compared in any order.
 */
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureBundles, ROOT } from '../fixtures/bundles.js';

const DOC = path.join(ROOT, 'docs', 'walkthrough.md');
const DOC_ROOT = '/tmp/gitenv-walkthrough';

interface Step {
  /** A shell block: run, output not shown in the doc. */
  script?: string;
  /** A `$ command` and the lines the doc shows after it. */
  command?: string;
  expected?: string[];
}

/** The doc's blocks in order: ```sh blocks as scripts, plain ``` blocks as `$ command` + output. */
export function stepsOf(markdown: string): Step[] {
  const steps: Step[] = [];
  const blocks = markdown.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm);
  for (const [, lang, body] of blocks) {
    if (lang === 'sh') {
      steps.push({ script: body });
    } else if (lang === '') {
      let current: Step | undefined;
      for (const line of body.replace(/\n$/, '').split('\n')) {
        if (line.startsWith('$ ')) {
          current = { command: line.slice(2), expected: [] };
          steps.push(current);
        } else if (current) {
          current.expected?.push(line);
        }
      }
    }
  }
  return steps;
}

/** Downloads run side by side: the order of their `Fetching` lines is not the doc's business. */
function sortFetching(lines: string[]): string[] {
  const out = [...lines];
  for (let i = 0; i < out.length; i++) {
    let j = i;
    while (j < out.length && out[j].startsWith('Fetching ')) j++;
    if (j - i > 1) out.splice(i, j - i, ...out.slice(i, j).sort());
    i = j;
  }
  return out;
}

function normalise(lines: string[], root: string): string[] {
  return sortFetching(lines)
    .map((l) => l.split(root).join(DOC_ROOT))
    .filter((l) => !/^total \d+$/.test(l))
    .map((l) =>
      l
        .replace(/^([dl-])[rwxsStT-]{9}\.?\s+\d+\s+\S+\s+\S+\s+\d+\s+\w{3}\s+\d+\s+[\d:]+\s+(.*)$/, '$1 $2')
        .replace(/\d{4}_\d{2}_\d{2}/g, 'YYYY_MM_DD')
        .replace(/\bin \d+(\.\d+)? s\b/g, 'in N s')
        .replace(/[0-9a-f]{64}/g, '<sha256>')
        .trimEnd(),
    );
}

/**
 * Environments are solved in threads, two at a time: the `Solving`/`Solved` progress lines of two
 * environments interleave in any order, so they are compared as a sorted set ahead of the rest.
 */
function solveLinesFirst(lines: string[]): string[] {
  const solve = (l: string): boolean => /^Solv(ing|ed) /.test(l);
  return [...lines.filter(solve).sort(), ...lines.filter((l) => !solve(l))];
}

test('docs/walkthrough.md: every command prints the lines the doc shows', async () => {
  await ensureBundles(['cli']);
  const steps = stepsOf(await fs.readFile(DOC, 'utf8'));
  expect(steps.filter((s) => s.command).length).toBeGreaterThan(10);
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'gitenv-walkthrough-'));
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'gitenv-walkthrough-tmp-'));
  const script = ['set -e'];
  steps.forEach((s, i) => {
    const text = (s.script ?? s.command ?? '').split(DOC_ROOT).join(root);
    if (s.script) script.push(`{\n${text}\n} >/dev/null`);
    else script.push(`printf '\\n@@@ %d\\n' ${i}`, text);
  });
  try {
    const env = {
      ...process.env,
      GIT_AUTHOR_NAME: 'Walk Through',
      GIT_AUTHOR_EMAIL: 'walk@example.org',
      GIT_COMMITTER_NAME: 'Walk Through',
      GIT_COMMITTER_EMAIL: 'walk@example.org',
      GIT_CONFIG_GLOBAL: '/dev/null',
      GITENV_DEBUG: '',
      LC_ALL: 'C',
      // A temporary directory of its own: gitenv sweeps stale clones other runs left in the shared one, and says so.
      // (Beside the walk-through's directory, which its first block removes.)
      TMPDIR: tmp,
    };
    const out = await new Promise<string>((resolve, reject) => {
      execFile('bash', ['-c', script.join('\n')], { cwd: ROOT, env, maxBuffer: 16 << 20 }, (err, stdout, stderr) =>
        err ? reject(new Error(`${err.message}\n${stdout}\n${stderr}`)) : resolve(stdout),
      );
    });
    const printed = new Map<number, string[]>();
    for (const part of out.split(/\n?@@@ /).slice(1)) {
      const [index, ...lines] = part.replace(/\n$/, '').split('\n');
      printed.set(Number(index), lines);
    }
    const commands = steps.map((s, i) => ({ s, i })).filter(({ s }) => s.command);
    const got = commands.map(({ s, i }) => ({ command: s.command, lines: solveLinesFirst(normalise(printed.get(i) ?? [], root)) }));
    const want = commands.map(({ s }) => ({ command: s.command, lines: solveLinesFirst(normalise(s.expected ?? [], root)) }));
    if (process.env.WALKTHROUGH_OUT) {
      const raw = commands.map(({ s, i }) => [`$ ${s.command}`, ...(printed.get(i) ?? []).map((l) => l.split(root).join(DOC_ROOT))].join('\n'));
      await fs.writeFile(process.env.WALKTHROUGH_OUT, raw.join('\n') + '\n');
    }
    expect(got).toEqual(want);
  } finally {
    await fs.rm(root, { recursive: true, force: true });
    await fs.rm(tmp, { recursive: true, force: true });
  }
}, 300_000);
