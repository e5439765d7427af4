// The README's action tables (scripts/gen-readme-tables.mjs, checked by scripts/check-readme.mjs):
// what the generator writes for awkward descriptions, and that the committed README is current.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

const exec = promisify(execFile);
const ROOT = path.resolve('.');
const GENERATOR = pathToFileURL(path.join(ROOT, 'scripts', 'gen-readme-tables.mjs')).href;

/** Calls one export of the generator in a plain node process (it is an .mjs script, not TypeScript). */
async function generator(call: string, ...args: string[]): Promise<{ out: string; err: string; code: number }> {
  const code = `const g = await import(${JSON.stringify(GENERATOR)}); const a = JSON.parse(process.argv[1]);
    try { process.stdout.write(String(${call})); } catch (e) { process.stderr.write(e.message); process.exit(3); }`;
  return exec(process.execPath, ['--input-type=module', '-e', code, JSON.stringify(args)]).then(
    (r) => ({ out: r.stdout, err: r.stderr, code: 0 }),
    (e: { stdout: string; stderr: string; code: number }) => ({ out: e.stdout, err: e.stderr, code: e.code }),
  );
}

describe('gen-readme-tables', () => {
  let tmp: string;

  beforeAll(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'gitenv-readme-'));
    await mkdir(path.join(tmp, 'actions', 'zeta'), { recursive: true });
    await mkdir(path.join(tmp, 'actions', 'deploy'), { recursive: true });
    await writeFile(
      path.join(tmp, 'actions', 'deploy', 'action.yml'),
      [
        "name: 'gitenv deploy'",
        "description: 'Deploy into <target>/<env>.'",
        'inputs:',
        '  target:',
        "    description: 'Where | to put `<env>` dirs.'",
        '    required: true',
        '  keep:',
        "    description: 'How many.'",
        "    default: '2'",
        '  note:',
        "    description: 'A default with a backtick.'",
        "    default: 'a`b'",
        '  empty:',
        "    description: 'Empty default.'",
        "    default: ''",
        'outputs:',
        '  deployed:',
        "    description: 'JSON list of {env, tag, prefix}.'",
        'runs:',
        '  using: node24',
        "  main: 'x.js'",
      ].join('\n'),
    );
    await writeFile(path.join(tmp, 'actions', 'zeta', 'action.yml'), "name: zeta\ndescription: 'Last.'\nruns:\n  using: node24\n  main: x.js\n");
    await writeFile(path.join(tmp, 'action.yml'), "name: root\ndescription: 'Any phase.'\nruns:\n  using: node24\n  main: x.js\n");
  });

  afterAll(async () => {
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  test('orders actions: known phases, then others by name, then the root action', async () => {
    const { out } = await generator('JSON.stringify(g.actionFiles(a[0]))', tmp);
    expect(JSON.parse(out)).toEqual([
      { uses: 'your-org/gitenv/actions/deploy@v1', file: 'actions/deploy/action.yml' },
      { uses: 'your-org/gitenv/actions/zeta@v1', file: 'actions/zeta/action.yml' },
      { uses: 'your-org/gitenv@v1', file: 'action.yml' },
    ]);
  });

  test('renders inputs and outputs as tables, escaping what markdown would eat', async () => {
    const { out } = await generator('g.renderTables(a[0])', tmp);
    const lines = out.split('\n');
    expect(lines).toContain('### gitenv deploy');
    expect(lines).toContain('`uses: your-org/gitenv/actions/deploy@v1` — Deploy into &lt;target&gt;/&lt;env&gt;. ([actions/deploy/action.yml](actions/deploy/action.yml))');
    expect(lines).toContain('| `target` | yes |  | Where \\| to put `<env>` dirs. |');
    expect(lines).toContain('| `keep` | no | `2` | How many. |');
    expect(lines).toContain('| `note` | no | `` a`b `` | A default with a backtick. |');
    expect(lines).toContain('| `empty` | no | *(empty)* | Empty default. |');
    expect(lines).toContain('| `deployed` | JSON list of {env, tag, prefix}. |');
    // An action without inputs or outputs gets its heading and line, no empty tables.
    const zeta = out.slice(out.indexOf('### zeta'), out.indexOf('### root'));
    expect(zeta).not.toContain('| Input |');
    expect(zeta).not.toContain('| Output |');
  });

  test('replaces only what stands between the markers, and refuses a README without them', async () => {
    const readme = 'top\n<!-- action-tables:start -->\nold\n<!-- action-tables:end -->\nbottom\n';
    const { out } = await generator('g.updateReadme(a[0], a[1])', readme, 'NEW');
    expect(out).toBe('top\n<!-- action-tables:start -->\nNEW\n<!-- action-tables:end -->\nbottom\n');
    const missing = await generator('g.updateReadme(a[0], a[1])', 'no markers\n', 'NEW');
    expect(missing.code).toBe(3);
    expect(missing.err).toContain('<!-- action-tables:start -->');
  });

  test('the committed README holds exactly what the generator writes (scripts/check-readme.mjs)', async () => {
    const { stdout } = await exec(process.execPath, [path.join(ROOT, 'scripts', 'check-readme.mjs')]);
    expect(stdout).toContain('match the action.yml files');
    expect(await readFile(path.join(ROOT, 'README.md'), 'utf8')).toContain('### gitenv deploy');
  });
});
