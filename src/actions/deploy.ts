import { deploy } from '../phases/deploy.js';
import { splitList } from '../util/glob.js';
import { getBool, getCommonSettings, getEngine, getInt, getModulefilesFormat, getRequired, getSecret, getString, Inputs, Outputs } from './inputs.js';
import { runAction } from './run-action.js';

export async function run(): Promise<void> {
  await runAction(
    'deploy',
    (logger) =>
      deploy(
        {
          ...getCommonSettings(),
          target: getRequired(Inputs.Target),
          envLabels: splitList(getString(Inputs.EnvLabels) ?? '*'),
          mirror: getString(Inputs.Mirror),
          apiUser: getSecret(Inputs.ApiUser),
          apiKey: getSecret(Inputs.ApiKey),
          engine: getEngine(),
          prune: getBool(Inputs.Prune),
          keep: getInt(Inputs.Keep, 2),
          pkgCache: getString(Inputs.PkgCache),
          skipTests: getBool(Inputs.SkipTests),
          testTimeout: getInt(Inputs.TestTimeout, 600),
          modulefiles: getString(Inputs.Modulefiles),
          modulefilesFormat: getModulefilesFormat(),
          modulefilesTemplate: getString(Inputs.ModulefilesTemplate),
          group: getString(Inputs.Group),
          worldReadable: getBool(Inputs.WorldReadable, true),
          platform: getString(Inputs.Platform),
        },
        { logger },
      ),
    (r) => ({ [Outputs.Deployed]: r.deployed }),
  );
}
