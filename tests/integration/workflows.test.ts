// The example workflows in workflows-examples/ are checked three ways: actionlint (when installed:
// .ci/setup-extra installs it), GitHub's own workflow parser, and against our action.yml files
// (every input passed exists, every required input is passed, every output read exists).
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { convertWorkflowTemplate, NoOperationTraceWriter, parseWorkflow } from '@actions/workflow-parser';
import { parseAction } from '@actions/workflow-parser/actions/action-parser';
import yaml from 'js-yaml';
import { testWithTool } from '../fixtures/tools.js';

const run = promisify(execFile);
const ROOT = path.resolve('.');
const EXAMPLES = path.join(ROOT, 'workflows-examples');
const PHASES = ['resolve', 'autotag', 'label', 'deploy', 'setup'];
const USES = /^[\w.-]+\/gitenv\/actions\/([a-z]+)@[\w.-]+$/;

const workflowFiles = readdirSync(EXAMPLES)
  .filter((f) => f.endsWith('.yml'))
  .sort();

interface ActionSpec {
  inputs: Record<string, { required?: boolean; default?: string }>;
  outputs: Record<string, unknown>;
}

interface Step {
  id?: string;
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
}

interface Job {
  'runs-on'?: unknown;
  concurrency?: { group?: string; 'cancel-in-progress'?: boolean };
  strategy?: { matrix?: { include?: Record<string, unknown>[] } };
  steps: Step[];
}

interface Workflow {
  on: Record<string, unknown>;
  concurrency?: { group?: string };
  permissions?: Record<string, string>;
  jobs: Record<string, Job>;
}

function loadAction(phase: string): ActionSpec {
  const doc = yaml.load(readFileSync(path.join(ROOT, 'actions', phase, 'action.yml'), 'utf8')) as ActionSpec;
  return { inputs: doc.inputs ?? {}, outputs: doc.outputs ?? {} };
}

function loadWorkflow(file: string): { text: string; doc: Workflow } {
  const text = readFileSync(path.join(EXAMPLES, file), 'utf8');
  return { text, doc: yaml.load(text) as Workflow };
}

/** Every step of every job that uses one of our actions, with the phase it names. */
function gitenvSteps(doc: Workflow): { job: string; step: Step; phase: string }[] {
  const found = [];
  for (const [job, body] of Object.entries(doc.jobs)) {
    for (const step of body.steps) {
      const m = step.uses ? USES.exec(step.uses) : null;
      if (m) found.push({ job, step, phase: m[1] });
    }
  }
  return found;
}

/** actionlint on PATH, else where `go install` puts it; undefined when neither has it. */
function findActionlint(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir && existsSync(path.join(dir, 'actionlint'))) return path.join(dir, 'actionlint');
  }
  try {
    const gopath = execFileSync('go', ['env', 'GOPATH'], { encoding: 'utf8' }).trim();
    const candidate = path.join(gopath, 'bin', 'actionlint');
    return existsSync(candidate) ? candidate : undefined;
  } catch {
    return undefined;
  }
}

const actionlint = findActionlint();

test('the four example workflows are there', () => {
  expect(workflowFiles).toEqual(['deploy.yml', 'promote.yml', 'resolve.yml', 'review.yml']);
});

testWithTool(
  'actionlint',
  actionlint !== undefined,
  'looked for on PATH and in $(go env GOPATH)/bin; bash .ci/setup-extra installs it',
)('actionlint reports nothing on workflows-examples/', async () => {
  const files = workflowFiles.map((f) => path.join(EXAMPLES, f));
  const result = await run(actionlint!, ['-no-color', '-oneline', ...files]).then(
    (r) => ({ code: 0, out: r.stdout + r.stderr }),
    (err: { code?: number; stdout?: string; stderr?: string }) => ({ code: err.code ?? 1, out: `${err.stdout ?? ''}${err.stderr ?? ''}` }),
  );
  expect(result.out).toBe('');
  expect(result.code).toBe(0);
});

describe.each(workflowFiles)('%s', (file) => {
  test('parses without errors with @actions/workflow-parser', async () => {
    const { text } = loadWorkflow(file);
    const parsed = parseWorkflow({ name: file, content: text }, new NoOperationTraceWriter());
    expect(parsed.context.errors.getErrors().map((e) => e.message)).toEqual([]);
    expect(parsed.value).toBeDefined();
    const template = await convertWorkflowTemplate(parsed.context, parsed.value!);
    expect(template.errors ?? []).toEqual([]);
    expect(template.jobs.length).toBeGreaterThan(0);
  });

  test('passes only inputs that the action declares, and every required one', () => {
    const steps = gitenvSteps(loadWorkflow(file).doc);
    expect(steps.length).toBeGreaterThan(0);
    for (const { job, step, phase } of steps) {
      expect(PHASES).toContain(phase);
      const action = loadAction(phase);
      const given = Object.keys(step.with ?? {});
      const unknown = given.filter((name) => !(name in action.inputs));
      expect({ job, phase, unknown }).toEqual({ job, phase, unknown: [] });
      const missing = Object.entries(action.inputs)
        .filter(([name, spec]) => spec.required === true && spec.default === undefined && !given.includes(name))
        .map(([name]) => name);
      expect({ job, phase, missing }).toEqual({ job, phase, missing: [] });
    }
  });

  test('reads only outputs that the action declares', () => {
    const { text, doc } = loadWorkflow(file);
    const phaseOfStep = new Map(
      gitenvSteps(doc)
        .filter((s) => s.step.id)
        .map((s) => [s.step.id!, s.phase]),
    );
    const reads = [...text.matchAll(/steps\.([A-Za-z_][\w-]*)\.outputs\.([\w-]+)/g)];
    for (const [, id, output] of reads) {
      const phase = phaseOfStep.get(id);
      expect({ id, known: phase !== undefined }).toEqual({ id, known: true });
      expect(Object.keys(loadAction(phase!).outputs)).toContain(output);
    }
  });
});

test('resolve.yml: nightly and by hand, resolve then autotag, one run at a time', () => {
  const { doc } = loadWorkflow('resolve.yml');
  expect(Object.keys(doc.on).sort()).toEqual(['schedule', 'workflow_dispatch']);
  expect(doc.concurrency?.group).toBeTruthy();
  const phases = gitenvSteps(doc).map((s) => s.phase);
  expect(phases).toEqual(['resolve', 'autotag']);
});

test('deploy.yml: by hand with env-labels and on label pushes; one job and one concurrency group per target', () => {
  const { doc } = loadWorkflow('deploy.yml');
  const dispatch = doc.on.workflow_dispatch as { inputs: Record<string, unknown> };
  expect(Object.keys(dispatch.inputs)).toContain('env-labels');
  expect((doc.on.push as { paths: string[] }).paths).toEqual(['labels/**']);
  const job = doc.jobs.deploy;
  const targets = job.strategy?.matrix?.include ?? [];
  expect(targets.length).toBeGreaterThan(1);
  for (const t of targets) expect((t.runner as string[])[0]).toBe('self-hosted');
  expect(job['runs-on']).toBe('${{ matrix.runner }}');
  expect(job.concurrency?.group).toContain('${{ matrix.target }}');
  const phases = gitenvSteps(doc).map((s) => s.phase);
  expect(phases).toEqual(['setup', 'deploy']);
  expect(gitenvSteps(doc)[1].step.with?.engine).toContain('inputs.engine');
});

test('promote.yml: labels a tag given by hand', () => {
  const { doc } = loadWorkflow('promote.yml');
  const dispatch = doc.on.workflow_dispatch as { inputs: Record<string, { required?: boolean }> };
  expect(dispatch.inputs.tag.required).toBe(true);
  const [step] = gitenvSteps(doc);
  expect(step.phase).toBe('label');
  expect(step.step.with?.tag).toBe('${{ inputs.tag }}');
});

test('review.yml: resolve in check mode and dry-run on pull requests, never on manifest branches', () => {
  const { doc } = loadWorkflow('review.yml');
  const pr = doc.on.pull_request as { 'branches-ignore': string[] };
  expect(pr['branches-ignore']).toContain('manifest/**');
  const [step] = gitenvSteps(doc);
  expect(step.phase).toBe('resolve');
  expect(step.step.with).toMatchObject({ mode: 'check', 'dry-run': true });
  expect(doc.permissions?.['pull-requests']).toBe('write');
});

test.each(['action.yml', ...PHASES.map((p) => `actions/${p}/action.yml`)])('%s parses against the action schema', (file) => {
  const parsed = parseAction({ name: file, content: readFileSync(path.join(ROOT, file), 'utf8') }, new NoOperationTraceWriter());
  expect(parsed.context.errors.getErrors().map((e) => e.message)).toEqual([]);
});
