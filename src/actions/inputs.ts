import * as core from '@actions/core';
import { ConfigurationError } from '../util/errors.js';
import { splitList } from '../util/glob.js';
import type { CommonSettings, Engine, ModulefilesFormat } from '../phases/settings.js';

/** Input names, in one place (actions/cache's habit). */
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
  SkipTests: 'skip-tests',
  TestTimeout: 'test-timeout',
  Modulefiles: 'modulefiles',
  ModulefilesFormat: 'modulefiles-format',
  ModulefilesTemplate: 'modulefiles-template',
  Group: 'group',
  WorldReadable: 'world-readable',
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

export function getRequired(name: string): string {
  const value = getString(name);
  if (value === undefined) throw new ConfigurationError(`Input required and not supplied: ${name}`);
  return value;
}

export function getBool(name: string, fallback = false): boolean {
  const value = getString(name);
  if (value === undefined) return fallback;
  if (/^(true|yes|on|1)$/i.test(value)) return true;
  if (/^(false|no|off|0)$/i.test(value)) return false;
  throw new ConfigurationError(`Input ${name} must be true or false, got "${value}"`);
}

export function getInt(name: string, fallback: number): number {
  const value = getString(name);
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new ConfigurationError(`Input ${name} must be a whole number, got "${value}"`);
  return n;
}

export function getEngine(): Engine {
  const value = getString(Inputs.Engine) ?? 'builtin';
  if (value !== 'builtin' && value !== 'micromamba') {
    throw new ConfigurationError(`Input engine must be builtin or micromamba, got "${value}"`);
  }
  return value;
}

export function getModulefilesFormat(): ModulefilesFormat {
  const value = getString(Inputs.ModulefilesFormat) ?? 'lua';
  if (value !== 'lua' && value !== 'tcl') throw new ConfigurationError(`Input modulefiles-format must be lua or tcl, got "${value}"`);
  return value;
}

/** A secret input: registered with the masker before anything can print it. */
export function getSecret(name: string): string | undefined {
  const value = getString(name);
  if (value) core.setSecret(value);
  return value;
}

export function getCommonSettings(): CommonSettings {
  const repository = getString(Inputs.Repository);
  if (!repository) throw new ConfigurationError('Input repository is empty: give a git URL or a local path');
  return {
    repository,
    token: getSecret(Inputs.Token),
    envs: splitList(getString(Inputs.Envs) ?? '*'),
    dryRun: getBool(Inputs.DryRun),
    workDir: process.env.RUNNER_TEMP || undefined,
  };
}
