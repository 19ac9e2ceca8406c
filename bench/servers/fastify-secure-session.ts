import fastifySecureSession from '@fastify/secure-session';
import Fastify from 'fastify';
import { randomBytes } from 'node:crypto';
import { mountFastify, type Bag } from './routes.js';
import { FOURTEEN_DAYS, listenFastify, runServer } from './serve.js';

type SecureSession = {
  get(key: string): unknown;
  set(key: string, value: unknown): void;
  data(): Record<string, unknown>;
};

/** @fastify/secure-session: the session sealed in the cookie (libsodium secretbox). */
runServer(async () => {
  const app = Fastify({ logger: false });
  await app.register(fastifySecureSession, {
    key: randomBytes(32),
    cookieName: 'session',
    expiry: FOURTEEN_DAYS / 1000,
    cookie: { path: '/', httpOnly: true, sameSite: 'lax' },
  });
  mountFastify(app, (req): Bag => {
    const s = req.session as unknown as SecureSession;
    return {
      get: (key) => s.get(key),
      set: (key, value) => s.set(key, value),
      keys: () => Object.keys(s.data()),
    };
  });
  return listenFastify(app);
});
