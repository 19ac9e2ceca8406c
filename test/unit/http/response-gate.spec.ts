import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { ServerResponse, createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import {
  committerOf,
  gateResponse,
  installOnPrototype,
  reserveGateSlot,
  type CommitResult,
} from '../../../lib/http/response-gate.js';

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

const answer = (error: unknown) => ({
  status: 503,
  body: { statusCode: 503, message: error instanceof Error ? error.message : String(error) },
});

function deferred() {
  let resolve!: () => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

let server: Server | undefined;
afterEach(async () => {
  await new Promise((done) => server?.close(done) ?? done(undefined));
  server = undefined;
});

/**
 * How a response gets hooked: its own wrappers (Fastify's plain responses), or wrappers on a
 * prototype its class shares, as Express sets one on each response, with the hook in a slot the
 * server reserved or, without one, in a WeakMap.
 */
type Mode = 'own wrappers' | 'prototype, reserved slot' | 'prototype, no slot';
const modes: Mode[] = ['own wrappers', 'prototype, reserved slot', 'prototype, no slot'];
let mode: Mode = 'own wrappers';

/** A real HTTP server whose one response is hooked with `commit` and written by `handler`. */
async function serve(
  commit: (status: number) => CommitResult,
  handler: (res: ServerResponse) => void,
  hook = true,
): Promise<Reply> {
  const proto = Object.create(ServerResponse.prototype) as object;
  if (mode !== 'own wrappers') installOnPrototype(proto);
  server = createServer((req, res) => {
    if (mode === 'prototype, reserved slot') reserveGateSlot(req, res);
    if (mode !== 'own wrappers') Object.setPrototypeOf(res, proto);
    if (hook) gateResponse(res, { commit, finish: () => undefined }, answer);
    handler(res);
  });
  await new Promise<void>((done) => server!.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  return new Promise<Reply>((resolve, reject) => {
    request({ port, host: '127.0.0.1', path: '/' }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
      res.on('error', reject);
    })
      .on('error', reject)
      .end();
  });
}

describe.each(modes)('gateResponse, %s', (current) => {
  beforeEach(() => {
    mode = current;
  });

  it('holds head, body and end of a streamed response until the store work is done', async () => {
    const store = deferred();
    const seen: Record<string, unknown> = {};
    const reply = serve(
      (status) => {
        seen.status = status;
        return { cookies: ['sid=1; Path=/'], pending: store.promise };
      },
      (res) => {
        res.writeHead(200, { 'content-length': '9' });
        seen.firstWrite = res.write('file ');
        res.write('body');
        res.end();
        // Nothing has left: with a Content-Length the client would take the body as complete.
        seen.headersSentWhileHeld = res.headersSent;
        store.resolve();
      },
    );
    expect(await reply).toMatchObject({
      status: 200,
      body: 'file body',
      headers: { 'set-cookie': ['sid=1; Path=/'] },
    });
    expect(seen).toEqual({ status: 200, firstWrite: false, headersSentWhileHeld: false });
  });

  it('keeps a piped stream waiting on backpressure, then delivers all of it', async () => {
    const store = deferred();
    let pulled = 0;
    const seen: Record<string, unknown> = {};
    const source = new Readable({
      read() {
        pulled += 1;
        this.push(pulled <= 3 ? `chunk${pulled};` : null);
      },
    });
    const reply = serve(
      () => ({ cookies: [], pending: store.promise }),
      (res) => {
        res.once('pipe', () => {
          // The first chunk is held and refused; the source pauses instead of filling memory.
          source.once('pause', () => {
            seen.headersSent = res.headersSent;
            seen.pulled = pulled;
            store.resolve();
          });
        });
        source.pipe(res);
      },
    );
    expect(await reply).toMatchObject({ status: 200, body: 'chunk1;chunk2;chunk3;' });
    expect(seen.headersSent).toBe(false);
    expect(seen.pulled).toBeLessThan(3);
  });

  it('delivers a large streamed body whole when the held first chunk overfills the socket', async () => {
    const store = deferred();
    const chunk = (i: number) => Buffer.alloc(256 * 1024, 97 + i);
    let sent = 0;
    const source = new Readable({
      read() {
        this.push(sent < 4 ? chunk(sent++) : null);
      },
    });
    const reply = serve(
      () => ({ cookies: [], pending: store.promise }),
      (res) => {
        source.once('pause', () => store.resolve());
        source.pipe(res);
      },
    );
    const got = await reply;
    expect(got.status).toBe(200);
    expect(got.body).toBe([0, 1, 2, 3].map((i) => chunk(i).toString()).join(''));
  });

  it('answers with the error, not a cut-off body, when the store work fails under a stream', async () => {
    const store = deferred();
    const reply = serve(
      () => ({ cookies: ['sid=1'], pending: store.promise }),
      (res) => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('part of a body');
        store.reject(new Error('store down'));
        // What the app writes after the error answered is dropped without an exception.
        store.promise.catch(() => {
          setImmediate(() => {
            res.write('more');
            res.end();
          });
        });
      },
    );
    const got = await reply;
    expect(got.status).toBe(503);
    expect(JSON.parse(got.body)).toEqual({ statusCode: 503, message: 'store down' });
    expect(got.headers['set-cookie']).toBeUndefined();
    expect(got.headers['content-type']).toBe('application/json; charset=utf-8');
  });

  it('answers with the failure a commit reports, whichever of head, write or end comes first', async () => {
    const failure = new Error('session too large');
    const got = await serve(
      () => ({ cookies: [], pending: undefined, failure }),
      (res) => {
        res.setHeader('x-app', 'kept?');
        res.writeHead(201, { 'content-type': 'text/html' });
        res.write('<p>');
        res.end('</p>');
      },
    );
    expect(got).toMatchObject({
      status: 503,
      headers: { 'content-type': 'application/json; charset=utf-8' },
    });
    expect(got.headers['x-app']).toBeUndefined();
    expect(JSON.parse(got.body).message).toBe('session too large');
  });

  it('passes straight through when there is no store work to wait for', async () => {
    const seen: Record<string, unknown> = {};
    const got = await serve(
      () => ({ cookies: ['a=1', 'b=2'], pending: undefined }),
      (res) => {
        res.setHeader('Set-Cookie', 'app=1');
        seen.hooked = committerOf(res) !== undefined;
        seen.write = res.write('now');
        seen.headersSent = res.headersSent;
        res.end();
      },
    );
    expect(got).toMatchObject({
      status: 200,
      body: 'now',
      headers: { 'set-cookie': ['app=1', 'a=1', 'b=2'] },
    });
    expect(seen).toEqual({ hooked: true, write: true, headersSent: true });
  });

  const twoCookies = () => ({ cookies: ['a=1', 'b=2'], pending: undefined });

  it('adds the cookies to the headers writeHead is given', async () => {
    const got = await serve(twoCookies, (res) => {
      res.writeHead(200, { 'x-app': '1' });
      res.end('ok');
    });
    expect(got.headers).toMatchObject({ 'x-app': '1', 'set-cookie': ['a=1', 'b=2'] });
  });

  it("adds the cookies after the app's, set on the response, when writeHead is given headers", async () => {
    const got = await serve(twoCookies, (res) => {
      res.setHeader('Set-Cookie', 'app=1');
      res.writeHead(200, { 'x-app': '1' });
      res.end('ok');
    });
    expect(got.headers).toMatchObject({ 'x-app': '1', 'set-cookie': ['app=1', 'a=1', 'b=2'] });
  });

  it("adds the cookies after the app's, given to writeHead", async () => {
    const got = await serve(twoCookies, (res) => {
      res.writeHead(200, { 'Set-Cookie': 'app=2' });
      res.end('ok');
    });
    expect(got.headers['set-cookie']).toEqual(['app=2', 'a=1', 'b=2']);
  });

  it('finds the committer of a hooked response, and lets an unhooked one pass straight through', async () => {
    const seen: Record<string, unknown> = {};
    const committer = { commit: () => ({ cookies: ['never=1'], pending: undefined }) };
    const got = await serve(
      committer.commit,
      (res) => {
        seen.committer = committerOf(res);
        res.writeHead(202, { 'content-type': 'text/plain' });
        res.end('plain');
      },
      false,
    );
    expect(got).toMatchObject({ status: 202, body: 'plain' });
    expect(got.headers['set-cookie']).toBeUndefined();
    expect(seen.committer).toBeUndefined();
  });
});
