import { ConfigurationError } from '../util/errors.js';
import { resolve } from '../phases/resolve.js';
import { DEFAULT_CHANNEL_ALIAS, DEFAULT_PLATFORM, type ResolveMode } from '../phases/settings.js';
import { getCommonSettings, getEngine, getSecret, getString, Inputs, Outputs } from './inputs.js';
import { runAction } from './run-action.js';

function getMode(): ResolveMode {
  const mode = getString(Inputs.Mode) ?? 'push';
  if (mode !== 'push' && mode !== 'pull-request' && mode !== 'check') {
    throw new ConfigurationError(`Input mode must be push, pull-request or check, got "${mode}"`);
  }
  return mode;
}

export async function run(): Promise<void> {
  await runAction(
    'resolve',
    (logger) =>
      resolve(
        {
          ...getCommonSettings(),
          platform: getString(Inputs.Platform) ?? DEFAULT_PLATFORM,
          channelAlias: getString(Inputs.ChannelAlias) ?? DEFAULT_CHANNEL_ALIAS,
          apiUser: getSecret(Inputs.ApiUser),
          apiKey: getSecret(Inputs.ApiKey),
          engine: getEngine(),
          mode: getMode(),
        },
        { logger },
      ),
    (r) => ({ [Outputs.Changed]: r.changed }),
  );
}
