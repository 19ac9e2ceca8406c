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
 * are written (whatever writes them: Express, Fastify, res.redirect, a stream, an exception filter),
 * and adds the cookies it returns to those the app set. The headers then wait with the end of the
 * response until the store work is done, so the next request sees it; if that work fails, the
 * response becomes a 503 instead of a success the store never kept (or, once a streamed body has
 * started, is cut off).
 */
export function hookResponse(
  res: ServerResponse,
  commit: (status: number) => CommitResult,
  onError: (error: unknown) => { status: number; message: string },
): void {
  const writeHead = res.writeHead as AnyFn;
  const write = res.write as AnyFn;
  const end = res.end as AnyFn;
  let decided = false;
  let pending: Promise<unknown> | undefined;
  let head: unknown[] | undefined;

  const decide = (self: ServerResponse, status: number, headers: unknown): void => {
    decided = true;
    const result = commit(status);
    pending = result.pending;
    if (result.cookies.length > 0) addSetCookie(self, headers, result.cookies);
  };
  const flushHead = (self: ServerResponse): void => {
    if (head === undefined) return;
    const args = head;
    head = undefined;
    writeHead.apply(self, args);
  };

  res.writeHead = function (this: ServerResponse, statusCode: number, ...rest: unknown[]) {
    if (decided || this.headersSent) return writeHead.call(this, statusCode, ...rest);
    decide(this, statusCode, typeof rest[0] === 'string' ? rest[1] : rest[0]);
    if (pending === undefined) return writeHead.call(this, statusCode, ...rest);
    head = [statusCode, ...rest];
    return this;
  } as ServerResponse['writeHead'];

  res.write = function (this: ServerResponse, ...args: unknown[]) {
    if (!decided && !this.headersSent) decide(this, this.statusCode, undefined);
    flushHead(this);
    return write.apply(this, args);
  } as ServerResponse['write'];

  res.end = function (this: ServerResponse, ...args: unknown[]) {
    if (!decided && !this.headersSent) decide(this, this.statusCode, undefined);
    if (pending === undefined) {
      flushHead(this);
      return end.apply(this, args);
    }
    const wait = pending;
    pending = undefined;
    wait.then(
      () => {
        flushHead(this);
        end.apply(this, args);
      },
      (error: unknown) => {
        const { status, message } = onError(error);
        if (head === undefined && this.headersSent) {
          this.destroy(error instanceof Error ? error : new Error(message));
          return;
        }
        head = undefined;
        for (const name of this.getHeaderNames()) this.removeHeader(name);
        const body = JSON.stringify({ statusCode: status, message, error: 'Service Unavailable' });
        writeHead.call(this, status, {
          'content-type': 'application/json; charset=utf-8',
          'content-length': Buffer.byteLength(body),
        });
        end.call(this, body);
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
