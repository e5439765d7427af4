import * as core from '@actions/core';
import { errorMessage } from '../util/errors.js';
import { DEFAULT_MICROMAMBA_URL, DEFAULT_MICROMAMBA_VERSION, setupMicromamba } from '../setup/micromamba-setup.js';
import { getString, Inputs, Outputs } from './inputs.js';
import { CoreLogger } from './core-logger.js';

export { DEFAULT_MICROMAMBA_URL, DEFAULT_MICROMAMBA_VERSION };

export async function run(): Promise<void> {
  try {
    const result = await setupMicromamba(
      {
        version: getString(Inputs.MicromambaVersion) ?? DEFAULT_MICROMAMBA_VERSION,
        urlTemplate: getString(Inputs.MicromambaUrl) ?? DEFAULT_MICROMAMBA_URL,
        sha256: getString(Inputs.MicromambaSha256),
      },
      { logger: new CoreLogger() },
    );
    core.setOutput(Outputs.MicromambaPath, result.path);
    core.setOutput(Outputs.Version, result.version);
  } catch (err) {
    core.setFailed(`gitenv setup: ${errorMessage(err)}`);
  }
}
