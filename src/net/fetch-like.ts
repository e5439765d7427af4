/** The fetch everything that reads HTTP takes: the global fetch, or FetchWrapper's (auth, file://, caching). */
export type FetchLike = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;
