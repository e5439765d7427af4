import { autotag } from '../phases/autotag.js';
import { parseAutotagSettings } from '../phases/settings.js';
import { actionInputs, Outputs } from './inputs.js';
import { runAction } from './run-action.js';

export async function run(): Promise<void> {
  await runAction(
    'autotag',
    (logger) => autotag(parseAutotagSettings(actionInputs()), { logger }),
    (r) => ({ [Outputs.Tags]: r.tags }),
  );
}
