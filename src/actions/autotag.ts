import { autotag } from '../phases/autotag.js';
import { parseAutotagSettings } from '../phases/settings.js';
import { applySiteSettings } from '../phases/site.js';
import { actionInputs, Outputs } from './inputs.js';
import { runAction } from './run-action.js';

export async function run(): Promise<void> {
  await runAction(
    'autotag',
    (logger) => {
      const settings = parseAutotagSettings(actionInputs());
      applySiteSettings(undefined, logger);
      return autotag(settings, { logger });
    },
    (r) => ({ [Outputs.Tags]: r.tags }),
  );
}
