import { OctokitGitHubClient, type GitHubServices } from '../github/client.js';
import { readPullRequestEvent } from '../github/event.js';
import { defaultCacheDir, resolve } from '../phases/resolve.js';
import { parseResolveSettings, type ResolveMode } from '../phases/settings.js';
import { applySiteSettings } from '../phases/site.js';
import { actionInputs, getString, Outputs } from './inputs.js';
import { restoreRepodataCache, saveRepodataCache } from './repodata-cache.js';
import { runAction } from './run-action.js';

/** This action's own input and output (the shared names live in inputs.ts). */
const GITHUB_API_URL_INPUT = 'github-api-url';
const PULL_REQUESTS_OUTPUT = 'pull-requests';

/**
 * `owner/name` for the REST calls: taken from the repository input when it is a repository of
 * this GitHub server, else the repository the workflow runs in.
 */
export function githubRepositoryOf(repository: string, env: NodeJS.ProcessEnv): string | undefined {
  const server = (env.GITHUB_SERVER_URL || 'https://github.com').replace(/\/+$/, '');
  if (repository.startsWith(server + '/')) {
    const m = /^([^/]+)\/([^/]+?)(?:\.git)?\/?$/.exec(repository.slice(server.length + 1));
    if (m) return `${m[1]}/${m[2]}`;
  }
  return env.GITHUB_REPOSITORY || undefined;
}

/** The GitHub client (when there is a token and a repository) and, in check mode, the pull request. */
async function githubServices(mode: ResolveMode, repository: string, token: string | undefined): Promise<GitHubServices> {
  if (mode === 'push') return {};
  const env = process.env;
  const owner = githubRepositoryOf(repository, env);
  // Run outside a runner (local-action), an empty input is its action.yml default, unexpanded.
  const input = getString(GITHUB_API_URL_INPUT);
  const baseUrl = (input && !input.startsWith('${{') ? input : undefined) ?? env.GITHUB_API_URL ?? 'https://api.github.com';
  const github = token && owner ? new OctokitGitHubClient({ token, repository: owner, baseUrl }) : undefined;
  const pullRequest = mode === 'check' ? await readPullRequestEvent(env.GITHUB_EVENT_PATH) : undefined;
  return { github, pullRequest };
}

export async function run(): Promise<void> {
  await runAction(
    'resolve',
    async (logger) => {
      const settings = parseResolveSettings(actionInputs());
      applySiteSettings(settings, logger);
      const services = await githubServices(settings.mode, settings.repository, settings.token);
      const restored = settings.actionsCache ? await restoreRepodataCache(defaultCacheDir(settings, process.env), settings.platform, logger) : undefined;
      const result = await resolve(settings, { logger, ...services });
      await saveRepodataCache(restored, logger);
      return result;
    },
    // pull-requests only in pull-request mode, where it means something.
    (r) => ({ [Outputs.Changed]: r.changed, ...(r.pullRequests ? { [PULL_REQUESTS_OUTPUT]: r.pullRequests } : {}) }),
  );
}
