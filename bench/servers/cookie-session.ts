import cookieSession from 'cookie-session';
import express from 'express';
import { createServer } from 'node:http';
import { mountExpress, objectBag } from './routes.js';
import { FOURTEEN_DAYS, listenHttp, runServer } from './serve.js';

/** cookie-session (signed, not encrypted) on Express 5. */
runServer(async (config) => {
  const app = express();
  app.use(
    cookieSession({
      name: 'session',
      keys: [config.secret],
      maxAge: FOURTEEN_DAYS,
      httpOnly: true,
      sameSite: 'lax',
    }),
  );
  mountExpress(app, (req) => objectBag(req.session ?? {}, []));
  return listenHttp(createServer(app));
});
