import { deploy } from '../phases/deploy.js';
import { parseDeploySettings } from '../phases/settings.js';
import { applySiteSettings } from '../phases/site.js';
import { actionInputs, Outputs } from './inputs.js';
import { runAction } from './run-action.js';

export async function run(): Promise<void> {
  await runAction(
    'deploy',
    (logger) => {
      const settings = parseDeploySettings(actionInputs());
      applySiteSettings(settings, logger);
      return deploy(settings, { logger });
    },
    (r) => ({ [Outputs.Deployed]: r.deployed }),
  );
}
