import express from 'express';
import { createServer } from 'node:http';
import { listenHttp, runServer } from './serve.js';

/** Express 5 with the same routes and bodies as the session apps, no session. */
runServer(() => {
  const app = express();
  app.get('/counter', (_req, res) => void res.json({ counter: 1 }));
  app.get('/new', (_req, res) => void res.json({ created: true }));
  app.get('/untouched', (_req, res) => void res.json({ ok: true }));
  return listenHttp(createServer(app));
});
