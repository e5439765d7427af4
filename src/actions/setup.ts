import * as core from '@actions/core';
import { parseSetupSettings } from '../phases/settings.js';
import { DEFAULT_MICROMAMBA_URL, DEFAULT_MICROMAMBA_VERSION, setupMicromamba } from '../setup/micromamba-setup.js';
import { code, raw, section, table } from '../summary/markdown.js';
import { applySiteSettings } from '../phases/site.js';
import { actionInputs, Outputs } from './inputs.js';
import { actionLogger, failStep } from './run-action.js';

export { DEFAULT_MICROMAMBA_URL, DEFAULT_MICROMAMBA_VERSION };

export async function run(): Promise<void> {
  try {
    const logger = actionLogger();
    const settings = parseSetupSettings(actionInputs());
    applySiteSettings(undefined, logger);
    const result = await setupMicromamba(settings, { logger });
    core.setOutput(Outputs.MicromambaPath, result.path);
    core.setOutput(Outputs.Version, result.version);
    if (process.env.GITHUB_STEP_SUMMARY) {
      const body = table(['Micromamba', 'Path'], [[result.version, raw(code(result.path))]]);
      await core.summary.addRaw(section('gitenv setup', body), true).write();
    }
  } catch (err) {
    await failStep('setup', err);
  }
}
