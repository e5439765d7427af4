/**
 * The few GitHub REST calls resolve needs (pull requests, their comments, deleting a branch is
 * left to git), behind an interface the core is given, so it never reaches for a token or
 * `@actions/github` itself. `OctokitGitHubClient` is the real one, on `@actions/github`'s octokit.
 */
import { getOctokit } from '@actions/github';
import { HttpError } from '../util/errors.js';

export interface PullRequest {
  number: number;
  /** The page a person opens (`html_url`). */
  url: string;
  title: string;
  body: string;
  state: 'open' | 'closed';
  /** The head branch name (without `owner:`). */
  head: string;
  /** The head commit. */
  headSha: string;
  base: string;
}

export interface IssueComment {
  id: number;
  body: string;
  url: string;
}

export interface NewPullRequest {
  head: string;
  base: string;
  title: string;
  body: string;
}

export interface GitHubClient {
  /** `owner/name` of the repository the calls go to. */
  readonly repository: string;
  /** The open pull request from branch `head` of this repository into `base`, if any. */
  findOpenPullRequest(head: string, base: string): Promise<PullRequest | undefined>;
  /** Closed pull requests from branch `head` into `base`, newest first (the first page). */
  listClosedPullRequests(head: string, base: string): Promise<PullRequest[]>;
  createPullRequest(pr: NewPullRequest): Promise<PullRequest>;
  updatePullRequest(number: number, change: { title?: string; body?: string; state?: 'open' | 'closed' }): Promise<PullRequest>;
  /** Every comment of an issue or pull request, oldest first. */
  listComments(issue: number): Promise<IssueComment[]>;
  createComment(issue: number, body: string): Promise<IssueComment>;
  updateComment(id: number, body: string): Promise<IssueComment>;
}

/** What the core is given besides the logger: a client and the pull request event, when there are. */
export interface GitHubServices {
  github?: GitHubClient;
  pullRequest?: import('./event.js').PullRequestEvent;
}

export interface GitHubClientOptions {
  token: string;
  /** `owner/name`. */
  repository: string;
  /** REST API root: https://api.github.com, `<server>/api/v3` on GitHub Enterprise (GITHUB_API_URL). */
  baseUrl: string;
}

type Octokit = ReturnType<typeof getOctokit>;

interface RawPull {
  number: number;
  html_url: string;
  title: string;
  body?: string | null;
  state: string;
  head: { ref: string; sha: string };
  base: { ref: string };
}

interface RawComment {
  id: number;
  body?: string | null;
  html_url: string;
}

const pull = (p: RawPull): PullRequest => ({
  number: p.number,
  url: p.html_url,
  title: p.title,
  body: p.body ?? '',
  state: p.state === 'closed' ? 'closed' : 'open',
  head: p.head.ref,
  headSha: p.head.sha,
  base: p.base.ref,
});

const comment = (c: RawComment): IssueComment => ({ id: c.id, body: c.body ?? '', url: c.html_url });

export class OctokitGitHubClient implements GitHubClient {
  private readonly octokit: Octokit;
  private readonly owner: string;
  private readonly repo: string;

  constructor(private readonly options: GitHubClientOptions) {
    const [owner, repo, ...rest] = options.repository.split('/');
    if (!owner || !repo || rest.length > 0) throw new Error(`"${options.repository}" is not an owner/name repository`);
    this.owner = owner;
    this.repo = repo;
    this.octokit = getOctokit(options.token, { baseUrl: options.baseUrl.replace(/\/+$/, '') });
  }

  get repository(): string {
    return `${this.owner}/${this.repo}`;
  }

  async findOpenPullRequest(head: string, base: string): Promise<PullRequest | undefined> {
    return (await this.list('open', head, base))[0];
  }

  async listClosedPullRequests(head: string, base: string): Promise<PullRequest[]> {
    return this.list('closed', head, base);
  }

  private async list(state: 'open' | 'closed', head: string, base: string): Promise<PullRequest[]> {
    const found = await this.call(`list pull requests of ${this.repository}`, () =>
      this.octokit.rest.pulls.list({ owner: this.owner, repo: this.repo, state, head: `${this.owner}:${head}`, base, sort: 'updated', direction: 'desc', per_page: 30 }),
    );
    // The head filter is the server's; check it anyway, a wrong match would edit someone's pull request.
    return (found.data as RawPull[]).map(pull).filter((p) => p.head === head && p.base === base);
  }

  async createPullRequest(pr: NewPullRequest): Promise<PullRequest> {
    const made = await this.call(`open a pull request from ${pr.head} into ${pr.base}`, () =>
      this.octokit.rest.pulls.create({ owner: this.owner, repo: this.repo, ...pr, maintainer_can_modify: false }),
    );
    return pull(made.data);
  }

  async updatePullRequest(number: number, change: { title?: string; body?: string; state?: 'open' | 'closed' }): Promise<PullRequest> {
    const made = await this.call(`update pull request #${number}`, () => this.octokit.rest.pulls.update({ owner: this.owner, repo: this.repo, pull_number: number, ...change }));
    return pull(made.data);
  }

  async listComments(issue: number): Promise<IssueComment[]> {
    const all = await this.call(`list the comments of #${issue}`, () =>
      this.octokit.paginate(this.octokit.rest.issues.listComments, { owner: this.owner, repo: this.repo, issue_number: issue, per_page: 100 }),
    );
    return (all as RawComment[]).map(comment);
  }

  async createComment(issue: number, body: string): Promise<IssueComment> {
    const made = await this.call(`comment on #${issue}`, () => this.octokit.rest.issues.createComment({ owner: this.owner, repo: this.repo, issue_number: issue, body }));
    return comment(made.data);
  }

  async updateComment(id: number, body: string): Promise<IssueComment> {
    const made = await this.call(`edit comment ${id}`, () => this.octokit.rest.issues.updateComment({ owner: this.owner, repo: this.repo, comment_id: id, body }));
    return comment(made.data);
  }

  /** Turns octokit's errors into an HttpError that says what was attempted (no token in it). */
  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      const e = err as { status?: number; message?: string; request?: { url?: string } };
      const status = typeof e.status === 'number' ? e.status : undefined;
      const hint = status === 403 || status === 404 ? ' (does the token have "pull-requests: write"?)' : '';
      const url = e.request?.url ?? this.options.baseUrl;
      throw new HttpError(url, status, `GitHub API: could not ${what}: ${status ?? ''} ${e.message ?? String(err)}${hint}`.replace(/  +/g, ' '), { cause: err });
    }
  }
}
