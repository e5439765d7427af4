import { label } from '../phases/label.js';
import { getBool, getCommonSettings, getRequired, getString, Inputs, Outputs } from './inputs.js';
import { runAction } from './run-action.js';

export async function run(): Promise<void> {
  await runAction(
    'label',
    (logger) =>
      label(
        {
          ...getCommonSettings(),
          tag: getRequired(Inputs.Tag),
          nextOnly: getBool(Inputs.NextOnly),
          label: getString(Inputs.Label),
        },
        { logger },
      ),
    (r) => ({ [Outputs.Labels]: r.labels }),
  );
}
