import type { ServerResponse } from 'node:http';

export interface CommitResult {
  /** Set-Cookie values to send with the headers. */
  cookies: string[];
  /** Store work the response must wait for before it ends. */
  pending: Promise<unknown> | undefined;
  /** The session cannot be committed (a cookie too large): the response becomes this error. */
  failure?: unknown;
}

/** What decides the commit once the final status is known. */
export interface Committer {
  commit(status: number): CommitResult;
}

/** The status and JSON body an error is answered with (the shape of Nest's default exception filter). */
export type ErrorResponse = (error: unknown) => { status: number; body: object };

type AnyFn = (...args: any[]) => any;
const HOOK = Symbol('nest-session:response');
type Hooked = ServerResponse & { [HOOK]: Hook };

/** One response's commit state; the wrappers below are shared by every response and read it from `this`. */
class Hook {
  decided = false;
  pending: Promise<unknown> | undefined;
  failure: unknown;
  head: unknown[] | undefined;

  constructor(
    readonly writeHead: AnyFn,
    readonly write: AnyFn,
    readonly end: AnyFn,
    readonly committer: Committer,
    readonly answer: ErrorResponse,
  ) {}

  decide(res: ServerResponse, status: number, headers: unknown): void {
    this.decided = true;
    const result = this.committer.commit(status);
    if (result.failure !== undefined) {
      this.failure = result.failure;
      return;
    }
    this.pending = result.pending;
    if (result.cookies.length > 0) addSetCookie(res, headers, result.cookies);
  }

  flushHead(res: ServerResponse): void {
    if (this.head === undefined) return;
    const args = this.head;
    this.head = undefined;
    this.writeHead.apply(res, args);
  }

  fail(res: ServerResponse, error: unknown): void {
    this.failure = undefined;
    if (this.head === undefined && res.headersSent) {
      res.destroy(error instanceof Error ? error : new Error(String(error)));
      return;
    }
    this.head = undefined;
    const { status, body } = this.answer(error);
    const json = JSON.stringify(body);
    for (const name of res.getHeaderNames()) res.removeHeader(name);
    this.writeHead.call(res, status, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(json),
    });
    this.end.call(res, json);
  }
}

/**
 * Commits once, with the status the response is actually sent with, just before its headers are
 * written (whatever writes them: Express, Fastify, res.redirect, a stream, an exception filter), and
 * adds the cookies to those the app set. The headers then wait with the end of the response until
 * the store work is done, so the next request sees it. If the session cannot be committed, or its
 * store work fails, the response becomes that error instead of a success that was never kept (once
 * a streamed body has started, it is cut off instead).
 */
export function hookResponse(res: ServerResponse, committer: Committer, answer: ErrorResponse): void {
  (res as Hooked)[HOOK] = new Hook(res.writeHead, res.write, res.end, committer, answer);
  res.writeHead = writeHead as ServerResponse['writeHead'];
  res.write = write as ServerResponse['write'];
  res.end = end as ServerResponse['end'];
}

function writeHead(this: Hooked, statusCode: number, ...rest: unknown[]) {
  const hook = this[HOOK];
  if (hook.decided || this.headersSent) return hook.writeHead.call(this, statusCode, ...rest);
  hook.decide(this, statusCode, typeof rest[0] === 'string' ? rest[1] : rest[0]);
  if (hook.pending === undefined && hook.failure === undefined)
    return hook.writeHead.call(this, statusCode, ...rest);
  hook.head = [statusCode, ...rest];
  return this;
}

function write(this: Hooked, ...args: unknown[]) {
  const hook = this[HOOK];
  if (!hook.decided && !this.headersSent) hook.decide(this, this.statusCode, undefined);
  if (hook.failure !== undefined) {
    hook.fail(this, hook.failure);
    return true;
  }
  if (this.writableEnded) return true;
  hook.flushHead(this);
  return hook.write.apply(this, args);
}

function end(this: Hooked, ...args: unknown[]) {
  const hook = this[HOOK];
  if (!hook.decided && !this.headersSent) hook.decide(this, this.statusCode, undefined);
  if (hook.failure !== undefined) {
    hook.fail(this, hook.failure);
    return this;
  }
  const pending = hook.pending;
  if (pending === undefined) {
    if (this.writableEnded) return this;
    hook.flushHead(this);
    return hook.end.apply(this, args);
  }
  hook.pending = undefined;
  pending.then(
    () => {
      hook.flushHead(this);
      hook.end.apply(this, args);
    },
    (error: unknown) => hook.fail(this, error),
  );
  return this;
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
