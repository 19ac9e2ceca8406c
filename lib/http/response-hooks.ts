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
const ORIGINAL = Symbol('nest-session:original');
interface Methods {
  writeHead: AnyFn;
  write: AnyFn;
  end: AnyFn;
}
type Hooked = ServerResponse & { [HOOK]?: Hook; [ORIGINAL]?: Methods };
/** Hooks of responses whose prototype carries the wrappers (Express's), by response. */
const byResponse = new WeakMap<ServerResponse, Hook>();

/** One response's commit state; the wrappers below are shared by every response and read it from `this`. */
class Hook {
  decided = false;
  /** While the store work is pending: the head, body and end calls made meanwhile, in order. */
  held: Array<[AnyFn, unknown[]]> | undefined;
  /** A write was refused while held: the writer waits for 'drain'. */
  drain = false;
  failure: unknown;

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
    if (result.cookies.length > 0) addSetCookie(res, headers, result.cookies);
    if (result.pending === undefined) return;
    this.held = [];
    result.pending.then(
      () => this.release(res),
      (error: unknown) => this.fail(res, error),
    );
  }

  release(res: ServerResponse): void {
    const held = this.held ?? [];
    this.held = undefined;
    // A writer refused while held waits for 'drain': sent here, unless the socket is full after
    // the replay, in which case Node sends it when the socket empties.
    let full = false;
    for (const [fn, args] of held) {
      const result: unknown = fn.apply(res, args);
      if (fn === this.write) full = result === false;
    }
    if (this.drain && !full && !res.writableEnded) res.emit('drain');
    this.drain = false;
  }

  fail(res: ServerResponse, error: unknown): void {
    this.failure = undefined;
    this.held = undefined;
    if (res.headersSent) {
      res.destroy(error instanceof Error ? error : new Error(String(error)));
      return;
    }
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
 * adds the cookies to those the app set. Head, body and end are then held until the store work is
 * done (a streamed body waits through backpressure), so no client sees any of the response before the
 * next request can see the session. If the session cannot be committed, or its store work fails, the
 * response becomes that error instead of a success that was never kept.
 */
export function hookResponse(res: ServerResponse, committer: Committer, answer: ErrorResponse): void {
  const hooked = res as Hooked;
  const original = hooked[ORIGINAL];
  if (original !== undefined) {
    const hook = new Hook(original.writeHead, original.write, original.end, committer, answer);
    if (HOOK in hooked) hooked[HOOK] = hook;
    else byResponse.set(res, hook);
    return;
  }
  hooked[HOOK] = new Hook(res.writeHead, res.write, res.end, committer, answer);
  res.writeHead = writeHead as ServerResponse['writeHead'];
  res.write = write as ServerResponse['write'];
  res.end = end as ServerResponse['end'];
}

/**
 * Gives a response the slot its hook goes in, as the server receives it: filling a slot is cheap,
 * while a property added once Express has set the response's prototype costs about a
 * microsecond and a half (a WeakMap entry, the way without a slot, costs less but adds GC work).
 */
export function reserveHookSlot(_req: unknown, res: ServerResponse): void {
  (res as Hooked)[HOOK] = undefined;
}

/**
 * Puts the wrappers on a prototype every response of an app inherits from (Express's
 * `app.response`), once, before the first request, rather than on each response (three
 * properties added to each of Express's responses cost several microseconds). Responses not
 * hooked pass straight through.
 */
export function hookResponsePrototype(proto: object): void {
  if (Object.hasOwn(proto, ORIGINAL)) return;
  const res = proto as Hooked;
  const original: Methods = { writeHead: res.writeHead, write: res.write, end: res.end };
  const method = (value: AnyFn) => ({ value, writable: true, configurable: true });
  Object.defineProperties(proto, {
    [ORIGINAL]: { value: original },
    writeHead: method(writeHead),
    write: method(write),
    end: method(end),
  });
}

/** The committer a response was hooked with, if any. */
export function committerOf(res: ServerResponse): Committer | undefined {
  return ((res as Hooked)[HOOK] ?? byResponse.get(res))?.committer;
}

function writeHead(this: Hooked, statusCode: number, ...rest: unknown[]) {
  const hook = this[HOOK] ?? byResponse.get(this);
  if (hook === undefined) return this[ORIGINAL]!.writeHead.call(this, statusCode, ...rest);
  if (!hook.decided && !this.headersSent) {
    hook.decide(this, statusCode, typeof rest[0] === 'string' ? rest[1] : rest[0]);
    // A failed commit drops this head: the write or end that follows answers with the error.
    if (hook.failure !== undefined) return this;
  }
  if (hook.held !== undefined) {
    hook.held.push([hook.writeHead, [statusCode, ...rest]]);
    return this;
  }
  if (this.writableEnded) return this;
  return hook.writeHead.call(this, statusCode, ...rest);
}

function write(this: Hooked, ...args: unknown[]) {
  const hook = this[HOOK] ?? byResponse.get(this);
  if (hook === undefined) return this[ORIGINAL]!.write.apply(this, args);
  if (!hook.decided && !this.headersSent) hook.decide(this, this.statusCode, undefined);
  if (hook.failure !== undefined) {
    hook.fail(this, hook.failure);
    return true;
  }
  if (hook.held !== undefined) {
    hook.held.push([hook.write, args]);
    hook.drain = true;
    return false;
  }
  if (this.writableEnded) return true;
  return hook.write.apply(this, args);
}

function end(this: Hooked, ...args: unknown[]) {
  const hook = this[HOOK] ?? byResponse.get(this);
  if (hook === undefined) return this[ORIGINAL]!.end.apply(this, args);
  if (!hook.decided && !this.headersSent) hook.decide(this, this.statusCode, undefined);
  if (hook.failure !== undefined) {
    hook.fail(this, hook.failure);
    return this;
  }
  if (hook.held !== undefined) {
    hook.held.push([hook.end, args]);
    return this;
  }
  if (this.writableEnded) return this;
  return hook.end.apply(this, args);
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
