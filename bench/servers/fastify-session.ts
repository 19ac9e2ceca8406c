import fastifyCookie from '@fastify/cookie';
import fastifySession from '@fastify/session';
import Fastify from 'fastify';
import { mountFastify, type Bag } from './routes.js';
import { FOURTEEN_DAYS, listenFastify, runServer } from './serve.js';
import { peerStore } from './stores.js';

type FastifySession = { get(key: string): unknown; set(key: string, value: unknown): void };

/** @fastify/session with its MemoryStore, connect-redis or the SQLite store. */
runServer(async (config) => {
  const peer = await peerStore(config);
  const app = Fastify({ logger: false });
  await app.register(fastifyCookie);
  await app.register(fastifySession, {
    secret: config.secret,
    saveUninitialized: false,
    cookie: { secure: false, httpOnly: true, sameSite: 'lax', maxAge: FOURTEEN_DAYS },
    ...(peer.store ? { store: peer.store as never } : {}),
  });
  mountFastify(app, (req): Bag => {
    const s = req.session as unknown as FastifySession & object;
    return {
      get: (key) => s.get(key),
      set: (key, value) => s.set(key, value),
      keys: () => Object.keys(s).filter((key) => key !== 'cookie'),
    };
  });
  return listenFastify(app, peer.close);
});
