import { label } from '../phases/label.js';
import { parseLabelSettings } from '../phases/settings.js';
import { actionInputs, Outputs } from './inputs.js';
import { runAction } from './run-action.js';

export async function run(): Promise<void> {
  await runAction(
    'label',
    (logger) => label(parseLabelSettings(actionInputs()), { logger }),
    (r) => ({ [Outputs.Labels]: r.labels }),
  );
}
