import type { ServerResponse } from 'node:http';

export interface CommitResult {
  /** Set-Cookie values to send with the headers. */
  cookies: string[];
  /** Store work the response must wait for before it ends. */
  pending: Promise<unknown> | undefined;
  /** The session cannot be committed (a cookie too large): the response becomes this error. */
  failure?: unknown;
}

/** The status and JSON body an error is answered with (the shape of Nest's default exception filter). */
export type ErrorResponse = (error: unknown) => { status: number; body: object };

type AnyFn = (...args: any[]) => any;

/**
 * Runs `commit` once, with the status the response is actually sent with, just before its headers
 * are written (whatever writes them: Express, Fastify, res.redirect, a stream, an exception filter),
 * and adds the cookies it returns to those the app set. The headers then wait with the end of the
 * response until the store work is done, so the next request sees it. If the session cannot be
 * committed, or its store work fails, the response becomes that error instead of a success that was
 * never kept (once a streamed body has started, it is cut off instead).
 */
export function hookResponse(
  res: ServerResponse,
  commit: (status: number) => CommitResult,
  answer: ErrorResponse,
): void {
  const writeHead = res.writeHead as AnyFn;
  const write = res.write as AnyFn;
  const end = res.end as AnyFn;
  let decided = false;
  let pending: Promise<unknown> | undefined;
  let failure: unknown;
  let head: unknown[] | undefined;

  const decide = (self: ServerResponse, status: number, headers: unknown): void => {
    decided = true;
    const result = commit(status);
    if (result.failure !== undefined) {
      failure = result.failure;
      return;
    }
    pending = result.pending;
    if (result.cookies.length > 0) addSetCookie(self, headers, result.cookies);
  };
  const flushHead = (self: ServerResponse): void => {
    if (head === undefined) return;
    const args = head;
    head = undefined;
    writeHead.apply(self, args);
  };
  const fail = (self: ServerResponse, error: unknown): void => {
    failure = undefined;
    if (head === undefined && self.headersSent) {
      self.destroy(error instanceof Error ? error : new Error(String(error)));
      return;
    }
    head = undefined;
    const { status, body } = answer(error);
    const json = JSON.stringify(body);
    for (const name of self.getHeaderNames()) self.removeHeader(name);
    writeHead.call(self, status, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(json),
    });
    end.call(self, json);
  };

  res.writeHead = function (this: ServerResponse, statusCode: number, ...rest: unknown[]) {
    if (decided || this.headersSent) return writeHead.call(this, statusCode, ...rest);
    decide(this, statusCode, typeof rest[0] === 'string' ? rest[1] : rest[0]);
    if (pending === undefined && failure === undefined) return writeHead.call(this, statusCode, ...rest);
    head = [statusCode, ...rest];
    return this;
  } as ServerResponse['writeHead'];

  res.write = function (this: ServerResponse, ...args: unknown[]) {
    if (!decided && !this.headersSent) decide(this, this.statusCode, undefined);
    if (failure !== undefined) {
      fail(this, failure);
      return true;
    }
    if (this.writableEnded) return true;
    flushHead(this);
    return write.apply(this, args);
  } as ServerResponse['write'];

  res.end = function (this: ServerResponse, ...args: unknown[]) {
    if (!decided && !this.headersSent) decide(this, this.statusCode, undefined);
    if (failure !== undefined) {
      fail(this, failure);
      return this;
    }
    if (pending === undefined) {
      if (this.writableEnded) return this;
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
      (error: unknown) => fail(this, error),
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
