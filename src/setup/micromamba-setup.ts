/**
 * Puts micromamba into the runner's tool cache: `find` first, else download → verify → extract →
 * `cacheFile` → PATH. A self-hosted runner downloads each version once; a leftover file from an
 * earlier, interrupted run does not break the download (setup-micromamba's failure mode).
 */
import { existsSync, statSync } from 'node:fs';
import { chmod, mkdir } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import * as core from '@actions/core';
import * as io from '@actions/io';
import * as tc from '@actions/tool-cache';
import { micromambaVersion } from '../engines/micromamba-command.js';
import { ConfigurationError, HttpError, errorMessage } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import { sha256File } from '../util/files.js';
import { redactUrls, splitCredentials } from '../util/secrets.js';
import { downloadKind, extractMicromamba } from './micromamba-archive.js';
import { expandUrlTemplate, micromambaExeName, micromambaPlatform } from './micromamba-platform.js';

export interface SetupSettings {
  version: string;
  urlTemplate: string;
  sha256?: string;
}

export interface SetupResult {
  path: string;
  version: string;
}

/** What setup needs of the phases' services (the core's Services fits). */
export interface SetupServices {
  logger: Logger;
  /** Environment variables (MAMBA_EXE, XDG_CACHE_HOME); default process.env. */
  env?: NodeJS.ProcessEnv;
}

/** micromamba-releases tags carry a build number (`2.3.3-0`); the tool cache keys on the whole tag. */
export const DEFAULT_MICROMAMBA_VERSION = '2.3.3-0';
export const DEFAULT_MICROMAMBA_URL = 'https://github.com/mamba-org/micromamba-releases/releases/download/{version}/micromamba-{platform}';
const TOOL = 'micromamba';

export async function setupMicromamba(settings: SetupSettings, services: SetupServices): Promise<SetupResult> {
  const { logger } = services;
  const version = settings.version.trim();
  if (!tc.isExplicitVersion(version)) {
    throw new ConfigurationError(`Input micromamba-version must be an exact release such as ${DEFAULT_MICROMAMBA_VERSION}, got "${version}" ` + '(the tool cache keys on it)');
  }
  ensureRunnerDirs(services.env ?? process.env);
  const exeName = micromambaExeName();
  const cached = tc.find(TOOL, version, process.arch);
  if (cached && existsSync(path.join(cached, exeName))) {
    logger.info(`micromamba ${version} found in the tool cache: ${cached}`);
    return finish(cached, exeName, version);
  }
  const workDir = path.join(process.env.RUNNER_TEMP as string, 'gitenv-micromamba', version);
  try {
    const exe = await download(settings, version, workDir, services);
    await chmod(exe, 0o755);
    const toolDir = await tc.cacheFile(exe, exeName, TOOL, version, process.arch);
    logger.info(`micromamba ${version} cached in ${toolDir}`);
    return finish(toolDir, exeName, version);
  } finally {
    await io.rmRF(workDir);
  }
}

/**
 * The micromamba resolve and deploy use: `MAMBA_EXE`, else one on PATH, else the setup step with
 * the given (or default) version and URL template.
 */
export async function ensureMicromamba(settings: Partial<SetupSettings>, services: SetupServices): Promise<SetupResult> {
  const env = services.env ?? process.env;
  const fromEnv = env.MAMBA_EXE && existsSync(env.MAMBA_EXE) && statSync(env.MAMBA_EXE).isFile() ? env.MAMBA_EXE : '';
  const found = fromEnv || (await io.which('micromamba', false));
  if (found) {
    const version = await micromambaVersion(found, env);
    services.logger.info(`Using micromamba ${version.text} at ${found}${fromEnv ? ' (MAMBA_EXE)' : ''}`);
    return { path: found, version: version.text };
  }
  return setupMicromamba(
    {
      version: settings.version ?? DEFAULT_MICROMAMBA_VERSION,
      urlTemplate: settings.urlTemplate ?? DEFAULT_MICROMAMBA_URL,
      sha256: settings.sha256,
    },
    services,
  );
}

/** Downloads into a fixed place under RUNNER_TEMP (a leftover is removed first) and returns the executable. */
async function download(settings: SetupSettings, version: string, workDir: string, services: SetupServices): Promise<string> {
  const platform = micromambaPlatform();
  // user:password in a mirror URL becomes a Basic header, so it never reaches a log line.
  const { url, password, authorization: auth } = splitCredentials(expandUrlTemplate(settings.urlTemplate, version, platform));
  if (password) services.logger.setSecret(password);
  // downloadTool refuses an existing destination: clear what an interrupted run may have left.
  if (existsSync(workDir)) services.logger.info(`Removing a leftover download in ${workDir}`);
  await io.rmRF(workDir);
  await mkdir(workDir, { recursive: true });
  const dest = path.join(workDir, 'download');
  try {
    await tc.downloadTool(url, dest, auth);
  } catch (err) {
    const status = (err as { httpStatusCode?: number }).httpStatusCode;
    throw new HttpError(redactUrls(url), status, `Downloading micromamba from ${redactUrls(url)} failed: ${errorMessage(err)}`, {
      cause: err,
    });
  }
  services.logger.info(`Downloaded micromamba ${version} for ${platform} from ${redactUrls(url)}`);
  if (settings.sha256) await verifySha256(dest, settings.sha256);
  const kind = await downloadKind(dest);
  return kind === 'executable' ? dest : extractMicromamba(dest, kind, path.join(workDir, 'extract'));
}

async function verifySha256(file: string, expected: string): Promise<void> {
  const want = expected.trim().toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(want)) {
    throw new ConfigurationError(`Input micromamba-sha256 must be 64 hex digits, got "${expected}"`);
  }
  const got = await sha256File(file);
  if (got !== want) {
    throw new ConfigurationError(`The micromamba download's sha256 is ${got}, not ${want} (input micromamba-sha256); nothing was cached`);
  }
}

function finish(dir: string, exeName: string, version: string): SetupResult {
  addToPath(dir);
  return { path: path.join(dir, exeName), version };
}

/** On a runner, GITHUB_PATH carries the directory to later steps; elsewhere this process's PATH is enough. */
function addToPath(dir: string): void {
  if (process.env.GITHUB_PATH) {
    core.addPath(dir);
  } else if (!(process.env.PATH ?? '').split(path.delimiter).includes(dir)) {
    process.env.PATH = `${dir}${path.delimiter}${process.env.PATH ?? ''}`;
  }
}

/**
 * tool-cache reads RUNNER_TOOL_CACHE and RUNNER_TEMP from process.env. Outside a runner (the CLI)
 * they get a per-user cache directory and the OS temp directory, so the CLI reuses downloads too.
 */
function ensureRunnerDirs(env: NodeJS.ProcessEnv): void {
  if (!process.env.RUNNER_TOOL_CACHE) {
    const base = env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
    process.env.RUNNER_TOOL_CACHE = path.join(base, 'gitenv', 'tool-cache');
  }
  if (!process.env.RUNNER_TEMP) process.env.RUNNER_TEMP = path.join(os.tmpdir(), 'gitenv-runner-temp');
}
