import { createServer } from 'node:http';
import { listenHttp, runServer } from './serve.js';

/** The ceiling: node:http with the same routes and bodies, no framework, no session. */
const bodies: Record<string, string> = {
  '/counter': JSON.stringify({ counter: 1 }),
  '/new': JSON.stringify({ created: true }),
  '/untouched': JSON.stringify({ ok: true }),
};

runServer(() =>
  listenHttp(
    createServer((req, res) => {
      const body = bodies[req.url ?? ''];
      res.statusCode = body === undefined ? 404 : 200;
      res.setHeader('content-type', 'application/json; charset=utf-8');
      res.end(body ?? '{}');
    }),
  ),
);
