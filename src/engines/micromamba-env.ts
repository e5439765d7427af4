/**
 * The environment micromamba runs in: virtual packages as CONDA_OVERRIDE_* variables, and channel
 * credentials in a private authentication file, so that neither reaches the command line.
 */
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import type { VirtualPackage } from '../conda/types.js';
import type { ChannelCredentials } from './types.js';
import { OVERRIDES } from '../conda/virtual-packages.js';

/**
 * The CONDA_OVERRIDE_* variables that make micromamba see exactly `packages` instead of the
 * runner's own machine. An empty value is how micromamba drops __glibc and __cuda; __unix needs
 * nothing (micromamba derives it from the platform).
 */
export function overrideVariables(packages: readonly VirtualPackage[]): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const o of OVERRIDES) {
    const pkg = packages.find((p) => p.name === o.name);
    if (pkg) vars[o.variable] = pkg[o.field];
    else if (o.removable) vars[o.variable] = '';
  }
  return vars;
}

/** The base environment with every inherited CONDA_OVERRIDE_* removed (the request decides them). */
export function baseEnvironment(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(env)) if (!k.startsWith('CONDA_OVERRIDE_')) out[k] = v;
  return out;
}

/** A temporary HOME holding `.mamba/auth/authentication.json`; removed by `dispose`. */
export interface AuthHome {
  home: string;
  dispose(): Promise<void>;
}

/**
 * micromamba reads channel credentials from `$HOME/.mamba/auth/authentication.json`, keyed by the
 * URL without its scheme (matched by prefix). gitenv writes one (mode 0600) into a temporary HOME
 * holding the user's own entries plus a BasicHTTPAuthentication entry per http(s) channel, and runs
 * micromamba with HOME pointing there: no credentials on the command line or in a URL.
 */
export async function writeAuthHome(credentials: ChannelCredentials, channels: readonly string[], scratch: string, env: NodeJS.ProcessEnv): Promise<AuthHome | undefined> {
  if (!credentials.apiUser && !credentials.apiKey) return undefined;
  const home = await mkdtemp(path.join(scratch, 'home-'));
  const dir = path.join(home, '.mamba', 'auth');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const entries: Record<string, unknown> = { ...readUserAuth(env) };
  const password = Buffer.from(credentials.apiKey ?? '').toString('base64');
  for (const channel of channels) {
    const key = authKey(channel);
    if (key) entries[key] = { type: 'BasicHTTPAuthentication', user: credentials.apiUser ?? '', password };
  }
  const file = path.join(dir, 'authentication.json');
  await writeFile(file, JSON.stringify(entries, null, 2), { mode: 0o600 });
  await chmod(file, 0o600);
  return { home, dispose: () => rm(home, { recursive: true, force: true }) };
}

/** `https://host:port/path/` → `host:port/path` (micromamba's key form); undefined for non-http URLs. */
export function authKey(channel: string): string | undefined {
  const m = /^https?:\/\/(?:[^/@]*@)?(.+?)\/*$/i.exec(channel);
  return m ? m[1] : undefined;
}

function readUserAuth(env: NodeJS.ProcessEnv): Record<string, unknown> {
  const file = path.join(env.HOME || os.homedir(), '.mamba', 'auth', 'authentication.json');
  if (!existsSync(file)) return {};
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch {
    return {};
  }
}
