import * as core from '@actions/core';
import { run as runAutotag } from './autotag.js';
import { run as runDeploy } from './deploy.js';
import { run as runLabel } from './label.js';
import { run as runResolve } from './resolve.js';
import { run as runSetup } from './setup.js';
import { Inputs } from './inputs.js';

const phases: Record<string, () => Promise<void>> = {
  resolve: runResolve,
  autotag: runAutotag,
  label: runLabel,
  deploy: runDeploy,
  setup: runSetup,
};

/** The root action: one phase chosen by the `phase` input. */
export async function run(): Promise<void> {
  const phase = core.getInput(Inputs.Phase).trim();
  const body = phases[phase];
  if (!body) {
    core.setFailed(`Input phase must be one of ${Object.keys(phases).join(', ')}; got "${phase}"`);
    return;
  }
  await body();
}
