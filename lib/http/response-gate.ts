import { HttpException } from '@nestjs/common';
import type { ServerResponse } from 'node:http';
import { SessionStoreUnavailableError } from '../session.errors.js';

export interface CommitResult {
  /** Set-Cookie values to send with the headers. */
  cookies: string[];
  /** Store work the response must wait for before any of it leaves. */
  pending: Promise<unknown> | undefined;
  /** The session cannot be committed (too large): the response becomes this error. */
  failure?: unknown;
}

/** What decides the commit once the final status is known, and keeps what changed after it. */
export interface Committer {
  commit(status: number): CommitResult;
  /** At the response's end: store work for changes made after the commit, which the end waits for. */
  finish(): Promise<unknown> | undefined;
}

/** The status and JSON body an error is answered with (the shape of Nest's default exception filter). */
export type ErrorResponse = (error: unknown) => { status: number; body: object };

type AnyFn = (...args: any[]) => any;
type Method = 'writeHead' | 'write' | 'end';
type Methods = Record<Method, AnyFn>;

/**
 * One response's gate:
 * - `open`: nothing written yet; the first writeHead, write or end commits with the status it carries;
 * - `holding`: the commit's store work is pending; head, body and end are kept in order;
 * - `passed`: everything goes straight through (held calls replayed first), except that the end
 *   waits for the late commit of changes made after the head, if there are any (holding again);
 * - `refused`: the commit refused the session (too large); the next write or end answers the error;
 * - `failed`: the error was answered (or the connection cut); later calls are dropped.
 */
type GateState = 'open' | 'holding' | 'passed' | 'refused' | 'failed';

class Gate {
  state: GateState = 'open';
  /** What was called while holding, in order (made when first needed). */
  held: Array<[Method, unknown[]]> | undefined;
  /** A write was refused while holding: the writer waits for 'drain'. */
  drain = false;
  failure: unknown;

  constructor(
    readonly original: Methods,
    readonly committer: Committer,
    readonly answer: ErrorResponse,
  ) {}

  /** The one interception of writeHead, write and end. */
  call(res: ServerResponse, method: Method, args: unknown[]): unknown {
    if (this.state === 'open' && !res.headersSent) {
      if (method === 'writeHead') {
        const headers = typeof args[1] === 'string' ? args[2] : args[1];
        this.decide(res, args[0] as number, headers);
      } else {
        this.decide(res, res.statusCode, undefined);
      }
    }
    switch (this.state) {
      case 'holding':
        (this.held ??= []).push([method, args]);
        if (method !== 'write') return res;
        this.drain = true;
        return false;
      case 'refused':
        // The head is dropped; the write or end that follows answers with the error.
        if (method === 'writeHead') return res;
        this.fail(res, this.failure);
        return method === 'write' ? true : res;
      case 'failed':
        return method === 'write' ? true : res;
      default:
        if (res.writableEnded) return method === 'write' ? true : res;
        if (method === 'end') return this.end(res, args);
        return this.original[method].apply(res, args);
    }
  }

  /** The end, once the head has passed: after the late commit, if changes were made since the head. */
  private end(res: ServerResponse, args: unknown[]): unknown {
    const late = this.committer.finish();
    if (late === undefined) return this.original.end.apply(res, args);
    this.state = 'holding';
    this.held = [['end', args]];
    late.then(
      () => this.release(res),
      (error: unknown) => this.fail(res, error),
    );
    return res;
  }

  private decide(res: ServerResponse, status: number, headers: unknown): void {
    const result = this.committer.commit(status);
    if (result.failure !== undefined) {
      this.failure = result.failure;
      this.state = 'refused';
      return;
    }
    if (result.cookies.length > 0) addSetCookie(res, headers, result.cookies);
    if (result.pending === undefined) {
      this.state = 'passed';
      return;
    }
    this.state = 'holding';
    result.pending.then(
      () => this.release(res),
      (error: unknown) => this.fail(res, error),
    );
  }

  private release(res: ServerResponse): void {
    const held = this.held ?? [];
    this.held = undefined;
    this.state = 'passed';
    // A writer refused while holding waits for 'drain': sent here, unless the socket is full after
    // the replay, in which case Node sends it when the socket empties.
    let full = false;
    for (const [method, args] of held) {
      if (method === 'end') {
        // Changes made while the head was held still need their late commit.
        this.end(res, args);
        break;
      }
      const result: unknown = this.original[method].apply(res, args);
      if (method === 'write') full = result === false;
    }
    if (this.drain && !full && !res.writableEnded) res.emit('drain');
    this.drain = false;
  }

  private fail(res: ServerResponse, error: unknown): void {
    this.state = 'failed';
    this.failure = undefined;
    this.held = undefined;
    if (res.headersSent) {
      res.destroy(error instanceof Error ? error : new Error(String(error)));
      return;
    }
    const { status, body } = this.answer(error);
    const json = JSON.stringify(body);
    for (const name of res.getHeaderNames()) res.removeHeader(name);
    this.original.writeHead.call(res, status, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(json),
    });
    this.original.end.call(res, json);
  }
}

// ---- Installing the interception: the per-response logic above does not depend on it. ----

const GATE = Symbol('nest-session:gate');
const ORIGINAL = Symbol('nest-session:original');
type Gated = ServerResponse & { [GATE]?: Gate; [ORIGINAL]?: Methods };
/** Gates of responses whose prototype carries the wrappers but that have no reserved slot. */
const byResponse = new WeakMap<ServerResponse, Gate>();

const gateOf = (res: Gated): Gate | undefined => res[GATE] ?? byResponse.get(res);

/** The wrappers, shared by every gated response: each finds its gate from `this`. */
const wrappers: Methods = {
  writeHead(this: Gated, ...args: unknown[]) {
    const gate = gateOf(this);
    return gate === undefined
      ? this[ORIGINAL]!.writeHead.apply(this, args)
      : gate.call(this, 'writeHead', args);
  },
  write(this: Gated, ...args: unknown[]) {
    const gate = gateOf(this);
    return gate === undefined ? this[ORIGINAL]!.write.apply(this, args) : gate.call(this, 'write', args);
  },
  end(this: Gated, ...args: unknown[]) {
    const gate = gateOf(this);
    return gate === undefined ? this[ORIGINAL]!.end.apply(this, args) : gate.call(this, 'end', args);
  },
};

/**
 * Commits once, with the status the response is actually sent with, just before its headers are
 * written (whatever writes them: Express, Fastify, res.redirect, a stream, an exception filter), and
 * adds the cookies to those the app set. Head, body and end are then held until the store work is
 * done (a streamed body waits through backpressure), so no client sees any of the response before the
 * next request can see the session. If the session cannot be committed, or its store work fails, the
 * response becomes that error instead of a success that was never kept.
 *
 * A response whose prototype carries the wrappers (installOnPrototype) gets only its gate; any other
 * gets wrappers of its own.
 */
export function gateResponse(res: ServerResponse, committer: Committer, answer: ErrorResponse): void {
  const gated = res as Gated;
  const original = gated[ORIGINAL];
  if (original !== undefined) {
    const gate = new Gate(original, committer, answer);
    if (GATE in gated) gated[GATE] = gate;
    else byResponse.set(res, gate);
    return;
  }
  gated[GATE] = new Gate({ writeHead: res.writeHead, write: res.write, end: res.end }, committer, answer);
  res.writeHead = wrappers.writeHead as ServerResponse['writeHead'];
  res.write = wrappers.write as ServerResponse['write'];
  res.end = wrappers.end as ServerResponse['end'];
}

/**
 * Gives a response the slot its gate goes in, as the server receives it: filling a slot is cheap,
 * while a property added once Express has set the response's prototype is not (the WeakMap, the
 * way without a slot, adds garbage-collection work instead).
 */
export function reserveGateSlot(_req: unknown, res: ServerResponse): void {
  (res as Gated)[GATE] = undefined;
}

/**
 * Puts the wrappers on a prototype every response of an app inherits from (Express's
 * `app.response`), once, before the first request, rather than on each response. Responses without
 * a gate pass straight through.
 */
export function installOnPrototype(proto: object): void {
  if (Object.hasOwn(proto, ORIGINAL)) return;
  const res = proto as Gated;
  const original: Methods = { writeHead: res.writeHead, write: res.write, end: res.end };
  const method = (value: AnyFn) => ({ value, writable: true, configurable: true });
  Object.defineProperties(proto, {
    [ORIGINAL]: { value: original },
    writeHead: method(wrappers.writeHead),
    write: method(wrappers.write),
    end: method(wrappers.end),
  });
}

/** The committer a response was gated with, if any. */
export function committerOf(res: ServerResponse): Committer | undefined {
  return gateOf(res as Gated)?.committer;
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
    // Into the head writeHead was given (Fastify passes its reply's headers): Node writes that
    // object as it is, while a header set on the response first sends every header of it through
    // setHeader. Unless the app set a Set-Cookie on the response itself: the cookies join it.
    if (!res.hasHeader('set-cookie')) {
      bag['set-cookie'] = cookies;
      return;
    }
  }
  res.appendHeader('Set-Cookie', cookies);
}

/** Step 7's error body: what Nest's default exception filter would send for the error. */
export function errorResponse(error: unknown): { status: number; body: object } {
  const http = error instanceof HttpException ? error : new SessionStoreUnavailableError('session', error);
  const response = http.getResponse();
  const status = http.getStatus();
  return {
    status,
    body: typeof response === 'object' ? response : { statusCode: status, message: response },
  };
}
