import 'reflect-metadata';
import fastifyCookie from '@fastify/cookie';
import fastifySecureSession from '@fastify/secure-session';
import fastifySession from '@fastify/session';
import { Controller, Get, Module, Param, Req, Session, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter, type NestExpressApplication } from '@nestjs/platform-express';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import connectFlash from 'connect-flash';
import cookieSession from 'cookie-session';
import session from 'express-session';
import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import { handlers, objectBag, type Bag } from './routes.js';
import { FOURTEEN_DAYS, keepAlive, runServer, type ServerConfig, type Started } from './serve.js';
import { peerStore } from './stores.js';

type GetSet = { get(key: string): unknown; set(key: string, value: unknown): void };
type SessionObject = Record<string, unknown>;

/** How the handlers reach the session of the library hosted in this process (set at start). */
let bagOf: (session: SessionObject) => Bag = (s) => objectBag(s, []);

const bags: Record<NonNullable<ServerConfig['library']>, (session: SessionObject) => Bag> = {
  'express-session': (s) => objectBag(s, ['cookie']),
  'cookie-session': (s) => objectBag(s ?? {}, []),
  'fastify-session': (s) => {
    const api = s as unknown as GetSet;
    return {
      get: (key) => api.get(key),
      set: (key, value) => api.set(key, value),
      keys: () => Object.keys(s).filter((key) => key !== 'cookie'),
    };
  },
  'fastify-secure-session': (s) => {
    const api = s as unknown as GetSet & { data(): SessionObject };
    return {
      get: (key) => api.get(key),
      set: (key, value) => api.set(key, value),
      keys: () => Object.keys(api.data() ?? {}),
    };
  },
};

/**
 * The routes of every session variant, written as a NestJS app using the library writes them: the
 * session from Nest's @Session() (req.session).
 */
@Controller()
class PeerController {
  @Get('counter')
  counter(@Session() s: SessionObject) {
    return handlers.counter(bagOf(s), '');
  }

  @Get('new')
  create(@Session() s: SessionObject) {
    return handlers.new(bagOf(s), '');
  }

  @Get('untouched')
  untouched() {
    return { ok: true };
  }

  @Get('write/:key')
  write(@Session() s: SessionObject, @Param('key') key: string) {
    return handlers.write(bagOf(s), key);
  }

  @Get('keys')
  keys(@Session() s: SessionObject) {
    return handlers.keys(bagOf(s), '');
  }

  @Get('seed/:bytes')
  seed(@Session() s: SessionObject, @Param('bytes') bytes: string) {
    return handlers.seed(bagOf(s), bytes);
  }

  /** Data as properties of req.session (express-session; @fastify/session keeps them so too). */
  @Get('facade')
  facade(@Session() s: SessionObject) {
    const views = ((s.views as number | undefined) ?? 0) + 1;
    s.views = views;
    return { views };
  }

  /** connect-flash: one message queued, its type read (and removed). */
  @Get('flash')
  flash(@Req() req: { flash(type: string, message?: string): unknown }) {
    req.flash('info', 'saved');
    return { messages: req.flash('info') };
  }

  /** connect-flash: the type the request before queued read, one message queued for the next. */
  @Get('flash-relay')
  flashRelay(@Req() req: { flash(type: string, message?: string): unknown }) {
    const messages = req.flash('info');
    req.flash('info', 'saved');
    return { messages };
  }
}

@Module({ controllers: [PeerController] })
class PeerModule {}

/**
 * A Nest 12 app hosting a peer as its docs and NestJS users do: on Express `app.use(session(...))`
 * (express-session with MemoryStore, connect-redis or the SQLite store; cookie-session), on Fastify
 * the plugin registered on Nest's Fastify instance (@fastify/session after @fastify/cookie;
 * @fastify/secure-session).
 */
runServer(async (config): Promise<Started> => {
  const library = config.library ?? 'express-session';
  bagOf = bags[library];
  const peer = await peerStore(config);
  let app: INestApplication;
  if (config.adapter === 'fastify') {
    const fastify = await NestFactory.create<NestFastifyApplication>(PeerModule, new FastifyAdapter(), {
      logger: false,
      abortOnError: false,
    });
    if (library === 'fastify-secure-session') {
      await fastify.register(fastifySecureSession as never, {
        key: randomBytes(32),
        cookieName: 'session',
        expiry: FOURTEEN_DAYS / 1000,
        cookie: { path: '/', httpOnly: true, sameSite: 'lax' },
      });
    } else {
      await fastify.register(fastifyCookie as never);
      await fastify.register(fastifySession as never, {
        secret: config.secret,
        saveUninitialized: false,
        cookie: { secure: false, httpOnly: true, sameSite: 'lax', maxAge: FOURTEEN_DAYS },
        ...(peer.store ? { store: peer.store } : {}),
      });
    }
    app = fastify;
  } else {
    const express = await NestFactory.create<NestExpressApplication>(PeerModule, new ExpressAdapter(), {
      logger: false,
      abortOnError: false,
    });
    if (library === 'cookie-session') {
      express.use(
        cookieSession({
          name: 'session',
          keys: [config.secret],
          maxAge: FOURTEEN_DAYS,
          httpOnly: true,
          sameSite: 'lax',
        }),
      );
      if (config.flash) express.use(connectFlash());
    } else {
      express.use(
        session({
          secret: config.secret,
          resave: false,
          saveUninitialized: false,
          store: peer.store,
          cookie: { maxAge: FOURTEEN_DAYS, httpOnly: true, sameSite: 'lax' },
        }),
      );
      if (config.flash) express.use(connectFlash());
    }
    app = express;
  }
  keepAlive(app.getHttpServer() as Server);
  await app.listen(0, '127.0.0.1');
  const address = (app.getHttpServer() as Server).address();
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    close: async () => {
      await app.close();
      await peer.close();
    },
  };
});
