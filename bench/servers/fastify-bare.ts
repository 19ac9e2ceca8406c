import Fastify from 'fastify';
import { listenFastify, runServer } from './serve.js';

/** Fastify 5 with the same routes and bodies as the session apps, no session. */
runServer(() => {
  const app = Fastify({ logger: false });
  app.get('/counter', async () => ({ counter: 1 }));
  app.get('/new', async () => ({ created: true }));
  app.get('/untouched', async () => ({ ok: true }));
  return listenFastify(app);
});
