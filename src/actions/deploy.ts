import { deploy } from '../phases/deploy.js';
import { parseDeploySettings } from '../phases/settings.js';
import { actionInputs, Outputs } from './inputs.js';
import { runAction } from './run-action.js';

export async function run(): Promise<void> {
  await runAction(
    'deploy',
    (logger) => deploy(parseDeploySettings(actionInputs()), { logger }),
    (r) => ({ [Outputs.Deployed]: r.deployed }),
  );
}
