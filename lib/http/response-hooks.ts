import type { ServerResponse } from 'node:http';

export interface CommitResult {
  /** Set-Cookie values to send with the headers. */
  cookies: string[];
  /** Store work the response must wait for before it ends. */
  pending: Promise<unknown> | undefined;
}

type AnyFn = (...args: any[]) => any;

/**
 * Runs `commit` once, with the status the response is actually sent with, just before its headers
 * are written (whatever wrote them: Express, Fastify, res.redirect, a stream, an exception filter),
 * adds the cookies it returns to those the app set, and holds the end of the response until the
 * store work is done, so the next request sees it. A failed store write ends the response with an
 * error instead of a success the store never kept.
 */
export function hookResponse(
  res: ServerResponse,
  commit: (status: number) => CommitResult,
  onError: (error: unknown) => void,
): void {
  const writeHead = res.writeHead as AnyFn;
  const end = res.end as AnyFn;
  let decided = false;
  let pending: Promise<unknown> | undefined;

  const decide = (self: ServerResponse, status: number, headers: unknown) => {
    decided = true;
    const result = commit(status);
    pending = result.pending;
    if (result.cookies.length > 0) addSetCookie(self, headers, result.cookies);
  };

  res.writeHead = function (this: ServerResponse, statusCode: number, ...rest: unknown[]) {
    if (!decided && !this.headersSent)
      decide(this, statusCode, typeof rest[0] === 'string' ? rest[1] : rest[0]);
    return writeHead.call(this, statusCode, ...rest);
  } as ServerResponse['writeHead'];

  res.end = function (this: ServerResponse, ...args: unknown[]) {
    if (!decided && !this.headersSent) decide(this, this.statusCode, undefined);
    if (pending === undefined) return end.apply(this, args);
    const wait = pending;
    pending = undefined;
    wait.then(
      () => end.apply(this, args),
      (error: unknown) => {
        onError(error);
        this.destroy(error instanceof Error ? error : new Error(String(error)));
      },
    );
    return this;
  } as ServerResponse['end'];
}

function addSetCookie(res: ServerResponse, headers: unknown, cookies: string[]): void {
  if (headers && typeof headers === 'object' && !Array.isArray(headers)) {
    const bag = headers as Record<string, unknown>;
    for (const key of Object.keys(bag)) {
      if (key.length === 10 && key.toLowerCase() === 'set-cookie') {
        const given = bag[key];
        bag[key] = [
          ...(Array.isArray(given) ? given : given === undefined ? [] : [String(given)]),
          ...cookies,
        ];
        return;
      }
    }
  }
  res.appendHeader('Set-Cookie', cookies);
}
