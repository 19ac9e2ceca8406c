import express from 'express';
import session from 'express-session';
import { createServer } from 'node:http';
import { mountExpress, objectBag } from './routes.js';
import { FOURTEEN_DAYS, listenHttp, runServer } from './serve.js';
import { peerStore } from './stores.js';

/** express-session on Express 5 with MemoryStore, connect-redis or the SQLite store. */
runServer(async (config) => {
  const peer = await peerStore(config);
  const app = express();
  app.use(
    session({
      secret: config.secret,
      resave: false,
      saveUninitialized: false,
      store: peer.store,
      cookie: { maxAge: FOURTEEN_DAYS, httpOnly: true, sameSite: 'lax' },
    }),
  );
  mountExpress(app, (req) => objectBag(req.session, ['cookie']));
  return listenHttp(createServer(app), peer.close);
});
