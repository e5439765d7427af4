/**
 * One environment's modulefiles (modulefiles.ts renders and writes them) from what is on disk: a
 * module per complete prefix, one per label symlink, the default-version file. Used by deploy after
 * its labels moved, and before anything else to tell a no-op deploy from one with modules to update.
 */
import * as path from 'node:path';
import type { Logger } from '../util/logger.js';
import { captureActivation, NO_ACTIVATION } from './activation.js';
import { listDeployedNames, readMarker, type DeployMarker } from './layout.js';
import { moduleFileName, rcFileName, renderModule, renderRc, syncModules, type ModuleOptions } from './modulefiles.js';
import type { TreeAccess } from './permissions.js';
import { readLabelLinks } from './symlinks.js';

/** Where modulefiles go and how they look (deploy input `modulefiles`). */
export interface ModulesConfig extends ModuleOptions {
  dir: string;
}

export interface EnvModulesContext {
  modules: ModulesConfig;
  access: TreeAccess;
  /** false: activation scripts are not run here (a prefix for another platform). */
  packageCode: boolean;
  logger: Logger;
}

/**
 * The environment's modulefiles brought in line with its complete prefixes and label links; with
 * `apply` false only compared. Returns the files written or removed (or to be).
 */
export async function syncEnvModules(
  env: string,
  dir: string,
  context: EnvModulesContext,
  apply: boolean,
  known?: { links: Map<string, string>; markers: Map<string, DeployMarker> },
): Promise<string[]> {
  const { modules, logger } = context;
  const envDirAbs = path.resolve(dir);
  const wanted = new Map<string, string>();
  const activations = new Map<string, DeployMarker['activation']>();
  // A plan made a moment ago has read the links and the selected prefixes' markers already.
  const [names, links] = await Promise.all([listDeployedNames(dir), known?.links ?? readLabelLinks(dir)]);
  const markers = await Promise.all(names.map(async (name) => known?.markers.get(name) ?? (await readMarker(path.join(envDirAbs, name)))));
  for (const [i, name] of names.entries()) {
    const prefix = path.join(envDirAbs, name);
    const marker = markers[i];
    if (!marker) continue;
    // Prefixes deployed before gitenv recorded activations: read now (the marker is not rewritten).
    const activation = marker.activation ?? (!context.packageCode ? NO_ACTIVATION : await captureActivation(prefix).catch(() => NO_ACTIVATION));
    activations.set(name, activation);
    wanted.set(moduleFileName(name, modules.format), renderModule({ env, version: name, root: prefix, recordedPrefix: prefix, activation }, modules));
  }
  for (const [label, name] of links) {
    const activation = activations.get(name);
    if (!activation) continue;
    const src = { env, version: label, root: path.join(envDirAbs, label), recordedPrefix: path.join(envDirAbs, name), activation };
    wanted.set(moduleFileName(label, modules.format), renderModule(src, modules));
  }
  if (wanted.size > 0) wanted.set(rcFileName(modules.format), renderRc(env, modules.format));
  const sync = await syncModules(path.join(modules.dir, env), wanted, context.access, apply);
  if (apply) {
    for (const f of sync.written) logger.info(`Wrote modulefile ${f}`);
    for (const f of sync.removed) logger.info(`Removed modulefile ${f}`);
  }
  return [...sync.written, ...sync.removed];
}
