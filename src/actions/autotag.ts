import { autotag } from '../phases/autotag.js';
import { getCommonSettings, Outputs } from './inputs.js';
import { runAction } from './run-action.js';

export async function run(): Promise<void> {
  await runAction(
    'autotag',
    (logger) => autotag(getCommonSettings(), { logger }),
    (r) => ({ [Outputs.Tags]: r.tags }),
  );
}
