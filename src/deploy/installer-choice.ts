/**
 * The one place deploy picks its installer from the `engine` setting.
 */
import type { InstallerEngine } from '../engines/types.js';
import { BuiltinInstaller } from '../installer/builtin-installer.js';
import type { Engine } from '../phases/settings.js';
import { ConfigurationError } from '../util/errors.js';

export interface InstallerChoiceOptions {
  /** Environment for post-link scripts and the engine (default process.env). */
  env?: NodeJS.ProcessEnv;
  now?: () => Date;
}

export function chooseInstaller(engine: Engine, options: InstallerChoiceOptions = {}): InstallerEngine {
  switch (engine) {
    case 'builtin':
      return new BuiltinInstaller({ env: options.env, now: options.now });
    default:
      throw new ConfigurationError(`engine ${engine} cannot deploy yet: use engine builtin`);
  }
}
