import { label } from '../phases/label.js';
import { parseLabelSettings } from '../phases/settings.js';
import { applySiteSettings } from '../phases/site.js';
import { actionInputs, Outputs } from './inputs.js';
import { runAction } from './run-action.js';

export async function run(): Promise<void> {
  await runAction(
    'label',
    (logger) => {
      const settings = parseLabelSettings(actionInputs());
      applySiteSettings(undefined, logger);
      return label(settings, { logger });
    },
    (r) => ({ [Outputs.Labels]: r.labels }),
  );
}
