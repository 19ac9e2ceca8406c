import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Controller, HttpCode, Post, type INestApplication, type Type } from '@nestjs/common';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { Session, type SessionModuleOptions } from 'nest-session';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { platforms, type Platform } from '../support/app.js';
import { readmeDirectory, sectionFiles, writeFiles } from '../support/readme.js';
import { SECRET } from '../support/session-app.js';
import { createSocketApp, ProbeGateway, socketLibraries, type SocketLibrary } from '../support/socket-app.js';
import { TestSocket } from '../support/socket-client.js';

// The session in WebSocket gateways (lib/realtime/), through real socket.io and ws clients, on
// Express and Fastify, with Nest's own adapters and no set-up: test/support/socket-app.ts's gateway.

const cases = platforms.flatMap((p) => socketLibraries.map((l) => [p, l] as [Platform, SocketLibrary]));
const HOUR = 60 * 60 * 1000;

/** What the server answers when it closes a socket whose session ended. */
const ENDED: Record<SocketLibrary, number | string> = { 'socket.io': 'io server disconnect', ws: 4401 };

/** An app on its own port, a browser's cookie jar for HTTP, and its sockets (closed at the end). */
class Harness {
  app!: INestApplication;
  url!: string;
  private readonly sockets: TestSocket[] = [];

  constructor(
    private readonly platform: Platform,
    readonly library: SocketLibrary,
  ) {}

  async start(options: SessionModuleOptions): Promise<void> {
    ({ app: this.app, url: this.url } = await createSocketApp(this.platform, this.library, {
      secret: SECRET,
      ...options,
    }));
  }

  async stop(): Promise<void> {
    this.sockets.forEach((socket) => socket.close());
    await this.app?.close();
  }

  /** An HTTP request with a cookie; answers its body and the cookie to keep. */
  async http(method: 'GET' | 'POST', path: string, cookie?: string, body: unknown = {}) {
    const res = await fetch(this.url + path, {
      method,
      headers: {
        ...(cookie ? { cookie } : {}),
        ...(method === 'POST' ? { 'content-type': 'application/json' } : {}),
      },
      body: method === 'POST' ? JSON.stringify(body) : undefined,
    });
    const set = res.headers
      .getSetCookie()
      .map((c) => c.split(';')[0])
      .find((c) => c.startsWith('nest_session='));
    return {
      status: res.status,
      body: (await res.json()) as any,
      cookie: set === 'nest_session=' ? undefined : (set ?? cookie),
    };
  }

  async signedIn(user = 'ada'): Promise<string> {
    return (await this.http('POST', `/auth/sign-in/${user}`)).cookie!;
  }

  async connect(cookie?: string): Promise<TestSocket> {
    const socket = await TestSocket.connect(this.library, this.url, cookie);
    this.sockets.push(socket);
    await socket.next('hello');
    return socket;
  }
}

describe.each(cases)('WebSocket gateways on %s with %s', (platform, library) => {
  const clock = { now: Date.now() };
  const h = new Harness(platform, library);
  beforeAll(async () => {
    await h.start({ clock: () => clock.now, maxSize: 4096, sockets: { checkInterval: 0 } });
  });
  afterAll(() => h.stop());

  it("sees the handshake's session in handleConnection, handlers, guards and client.request.session", async () => {
    const cookie = await h.signedIn();
    await h.http('POST', '/auth/set', cookie, { theme: 'dark' });
    const socket = await TestSocket.connect(library, h.url, cookie);
    expect(await socket.next('hello')).toEqual({
      event: 'hello',
      data: { userId: 'ada', fromRequest: true, counted: 'ok' },
    });
    expect(await socket.ask('whoami')).toEqual({
      event: 'whoami',
      data: {
        userId: 'ada',
        fromRequest: 'dark',
        fromDriver: 'ada',
        sessionID: true,
        data: expect.anything(),
      },
    });
    expect(await socket.ask('guarded')).toEqual({ event: 'guarded', data: { userId: 'ada' } });
    socket.close();
  });

  it("sees the socket's session in handleDisconnect", async () => {
    const socket = await h.connect(await h.signedIn('eve'));
    const gateway = h.app.get(ProbeGateway);
    const seen = new Promise<string | null>((resolve) => (gateway.disconnected = resolve));
    socket.close();
    expect(await seen).toBe('eve');
    gateway.disconnected = undefined;
  });

  it('loads each message fresh: a change made over HTTP is seen by the next message', async () => {
    const cookie = await h.signedIn();
    const socket = await h.connect(cookie);
    expect((await socket.ask('whoami')).data.fromRequest).toBeNull();
    await h.http('POST', '/auth/set', cookie, { theme: 'light' });
    expect((await socket.ask('whoami')).data).toMatchObject({
      fromRequest: 'light',
      data: { theme: 'light' },
    });
  });

  it("commits handleConnection's and each handler's writes before answering: the next HTTP request sees them", async () => {
    const cookie = await h.signedIn();
    const socket = await h.connect(cookie);
    await h.connect(cookie);
    expect(await socket.ask('set', { color: 'blue' })).toEqual({ event: 'set', data: 'ok' });
    expect(await socket.ask('request-set', { item: 'apple' })).toEqual({
      event: 'request-set',
      data: ['apple'],
    });
    expect(await socket.ask('request-set', { item: 'pear' })).toEqual({
      event: 'request-set',
      data: ['apple', 'pear'],
    });
    socket.send('observed', { keys: ['first', 'second'] });
    expect(await socket.next('observed')).toEqual({ event: 'observed', data: 'first' });
    expect(await socket.next('observed')).toEqual({ event: 'observed', data: 'second' });
    expect((await h.http('GET', '/auth/me', cookie)).body).toEqual({
      userId: 'ada',
      data: { connections: 2, color: 'blue', cart: ['apple', 'pear'], first: true, second: true },
    });
  });

  it('refuses what would change the id, with SESSION_READ_ONLY at the call', async () => {
    const socket = await h.connect(await h.signedIn());
    for (const how of ['regenerate', 'signIn', 'signOut', 'destroy']) {
      expect(await socket.ask('change-id', { how })).toEqual({
        event: 'change-id',
        data: 'SESSION_READ_ONLY',
      });
    }
    expect((await socket.ask('whoami')).data.userId).toBe('ada');
  });

  it('gives an anonymous socket a read-only empty session; guards refuse it', async () => {
    const socket = await TestSocket.connect(library, h.url);
    expect(await socket.next('hello')).toEqual({
      event: 'hello',
      data: { userId: null, fromRequest: true, counted: 'SESSION_READ_ONLY' },
    });
    expect(await socket.ask('set', { color: 'red' })).toEqual({ event: 'set', data: 'SESSION_READ_ONLY' });
    expect(await socket.ask('guarded')).toMatchObject({
      event: 'exception',
      data: { message: 'Forbidden resource' },
    });
    socket.close();
  });

  it('answers a commit the store refuses with an exception, and keeps nothing of it', async () => {
    const cookie = await h.signedIn();
    const socket = await h.connect(cookie);
    expect(await socket.ask('set', { big: 'x'.repeat(5000) })).toMatchObject({
      event: 'exception',
      data: { statusCode: 500, code: 'SESSION_TOO_LARGE' },
    });
    expect((await h.http('GET', '/auth/me', cookie)).body.data).not.toHaveProperty('big');
  });

  it('disconnects the sockets of a session signed out over HTTP, at once', async () => {
    const cookie = await h.signedIn();
    const [one, two] = [await h.connect(cookie), await h.connect(cookie)];
    const other = await h.connect(await h.signedIn('bob'));
    await h.http('POST', '/auth/sign-out', cookie);
    expect(await one.closed).toBe(ENDED[library]);
    expect(await two.closed).toBe(ENDED[library]);
    expect((await other.ask('whoami')).data.userId).toBe('bob');
  });

  it('disconnects the sockets of a revoked session: by another device, or by its own handler', async () => {
    const laptop = await h.signedIn('cy');
    const phone = await h.signedIn('cy');
    const [onLaptop, onPhone] = [await h.connect(laptop), await h.connect(phone)];
    expect((await h.http('POST', '/auth/revoke-all/cy', await h.signedIn('cy'))).body).toEqual({
      revoked: 3,
    });
    expect(await onLaptop.closed).toBe(ENDED[library]);
    expect(await onPhone.closed).toBe(ENDED[library]);
    const self = await h.connect(await h.signedIn('dee'));
    self.send('revoke-self');
    expect(await self.closed).toBe(ENDED[library]);
  });

  it("disconnects an expired session's socket at its next message, without running the handler", async () => {
    const cookie = await h.signedIn();
    const socket = await h.connect(cookie);
    clock.now += 2 * HOUR + 1;
    socket.send('set', { late: true });
    expect(await socket.closed).toBe(ENDED[library]);
  });
});

describe.each(cases)('WebSocket gateways on the cookie driver, %s with %s', (platform, library) => {
  const h = new Harness(platform, library);
  beforeAll(() => h.start({ driver: 'cookie' }));
  afterAll(() => h.stop());

  it('reads the sealed session; every write throws SESSION_READ_ONLY at the call', async () => {
    const socket = await TestSocket.connect(library, h.url, await h.signedIn());
    expect(await socket.next('hello')).toEqual({
      event: 'hello',
      data: { userId: 'ada', fromRequest: true, counted: 'SESSION_READ_ONLY' },
    });
    expect((await socket.ask('whoami')).data).toMatchObject({ userId: 'ada', fromDriver: 'ada' });
    expect(await socket.ask('set', { color: 'blue' })).toEqual({ event: 'set', data: 'SESSION_READ_ONLY' });
    expect(await socket.ask('request-set', { item: 'apple' })).toMatchObject({ event: 'exception' });
    expect(await socket.ask('change-id', { how: 'signOut' })).toEqual({
      event: 'change-id',
      data: 'SESSION_READ_ONLY',
    });
    socket.close();
  });

  it('disconnects the socket when its session signs out over HTTP', async () => {
    const cookie = await h.signedIn();
    const socket = await h.connect(cookie);
    await h.http('POST', '/auth/sign-out', cookie);
    expect(await socket.closed).toBe(ENDED[library]);
  });
});

describe.each(cases)('WebSocket gateways on revocable cookie sessions, %s with %s', (platform, library) => {
  const h = new Harness(platform, library);
  beforeAll(() => h.start({ driver: 'cookie', users: { revocationStore: 'memory' } }));
  afterAll(() => h.stop());

  it("disconnects a revoked cookie session's sockets, and only theirs", async () => {
    const [laptop, phone] = [await h.signedIn('cy'), await h.signedIn('cy')];
    const [onLaptop, onPhone] = [await h.connect(laptop), await h.connect(phone)];
    const other = await h.connect(await h.signedIn('dee'));
    expect((await h.http('POST', '/auth/revoke-all/cy', await h.signedIn('cy'))).body).toEqual({
      revoked: 3,
    });
    expect(await onLaptop.closed).toBe(ENDED[library]);
    expect(await onPhone.closed).toBe(ENDED[library]);
    expect((await other.ask('whoami')).data.userId).toBe('dee');
  });
});

describe.each(cases)('the sockets timer, %s with %s', (platform, library) => {
  const clock = { now: Date.now() };
  const h = new Harness(platform, library);
  beforeAll(() => h.start({ clock: () => clock.now, sockets: { checkInterval: 20 } }));
  afterAll(() => h.stop());

  it("disconnects an expired session's socket without waiting for a message", async () => {
    const expiring = await h.connect(await h.signedIn());
    clock.now += 2 * HOUR + 1;
    expect(await expiring.closed).toBe(ENDED[library]);
  });
});

/** What the README's gateway needs from HTTP: a signed-in session. */
@Controller()
class SignInController {
  constructor(private readonly session: Session) {}

  @Post('sign-in')
  @HttpCode(200)
  signIn() {
    this.session.signIn('ada');
  }
}

describe.each(platforms)("the README's WebSockets gateway on %s", (platform) => {
  const directory = readmeDirectory();
  let app: INestApplication;
  let url: string;
  const sockets: TestSocket[] = [];
  beforeAll(async () => {
    writeFiles(directory.path, sectionFiles('WebSockets'));
    const { AppModule } = (await import(join(directory.path, 'src', 'app.module.ts'))) as { AppModule: Type };
    const ref = await Test.createTestingModule({
      imports: [AppModule],
      controllers: [SignInController],
    }).compile();
    const adapter = platform === 'express' ? new ExpressAdapter() : new FastifyAdapter();
    app = ref.createNestApplication(adapter, { logger: false });
    await app.listen(0, '127.0.0.1');
    url = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    sockets.forEach((socket) => socket.close());
    await app?.close();
    directory.remove();
  });
  const connect = async (cookie?: string) => {
    const socket = await TestSocket.connect('socket.io', url, cookie);
    sockets.push(socket);
    return socket;
  };

  it('greets with the signed-in user, keeps the theme, and guards refuse an anonymous socket', async () => {
    const anonymous = await connect();
    expect(await anonymous.next('hello')).toEqual({ event: 'hello', data: { user: null } });
    expect(await anonymous.ask('theme', 'dark')).toMatchObject({ event: 'exception' });
    const res = await fetch(`${url}/sign-in`, { method: 'POST' });
    const cookie = res.headers.getSetCookie()[0].split(';')[0];
    const socket = await connect(cookie);
    expect(await socket.next('hello')).toEqual({ event: 'hello', data: { user: 'ada' } });
    expect(await socket.ask('theme', 'dark')).toEqual({ event: 'theme', data: 'dark' });
    const again = await connect(cookie);
    await again.next('hello');
    expect(await again.ask('theme', 'light')).toEqual({ event: 'theme', data: 'light' });
  });
});
