import * as core from '@actions/core';
import type { RawSettings } from '../phases/settings.js';

/** Input names, in one place (actions/cache's habit). The settings parsers read them by these names. */
export const Inputs = {
  Phase: 'phase',
  Repository: 'repository',
  Token: 'token',
  Envs: 'envs',
  DryRun: 'dry-run',
  Platform: 'platform',
  ChannelAlias: 'channel-alias',
  ApiUser: 'api-user',
  ApiKey: 'api-key',
  Engine: 'engine',
  Mode: 'mode',
  Tag: 'tag',
  NextOnly: 'next-only',
  Label: 'label',
  Target: 'target',
  EnvLabels: 'env-labels',
  Mirror: 'mirror',
  Prune: 'prune',
  Keep: 'keep',
  PkgCache: 'pkg-cache',
  LogLevel: 'log-level',
  MicromambaVersion: 'micromamba-version',
  MicromambaUrl: 'micromamba-url',
  MicromambaSha256: 'micromamba-sha256',
} as const;

export const Outputs = {
  Changed: 'changed',
  Tags: 'tags',
  Labels: 'labels',
  Deployed: 'deployed',
  MicromambaPath: 'micromamba-path',
  Version: 'version',
} as const;

export function getString(name: string): string | undefined {
  const value = core.getInput(name).trim();
  return value === '' ? undefined : value;
}

/** The action's inputs as strings, for the settings parsers (which judge them). */
export function actionInputs(env: NodeJS.ProcessEnv = process.env): RawSettings {
  return {
    get: (name) => getString(name),
    label: (name) => `Input ${name}`,
    setSecret: (secret) => core.setSecret(secret),
    env,
    frontEnd: 'action',
  };
}
