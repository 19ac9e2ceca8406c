import fastifyCookie from '@fastify/cookie';
import fastifyPassport from '@fastify/passport';
import fastifySession from '@fastify/session';
import flash from 'connect-flash';
import cookieSession from 'cookie-session';
import express, { type Express } from 'express';
import session from 'express-session';
import Fastify, { type FastifyInstance } from 'fastify';
import { Passport } from 'passport';
import { Strategy as LocalStrategy } from 'passport-local';
import request from 'supertest';
import { USERS, type User } from './ecosystem/passport-app.js';

/**
 * The apps users come from, each as its library's README sets it up, signing users in with
 * passport-local against the same USERS as the Nest apps: phase one of the migration tests.
 */

function verify(username: string, password: string, done: (e: unknown, u?: User | false) => void) {
  const user = USERS.find((u) => u.username === username && u.password === password);
  done(null, user === undefined ? false : { id: user.id, username: user.username });
}

/** passport 0.7 of its own (the Nest apps' passport is another instance), keeping the user's id. */
function localPassport() {
  const passport = new Passport();
  passport.use(new LocalStrategy(verify));
  passport.serializeUser<number>((user, done) => done(null, (user as User).id));
  passport.deserializeUser<number>((id, done) => done(null, USERS.find((u) => u.id === id) ?? false));
  return passport;
}

/** Routes every old app has: POST /login (adds a cart and a connect-flash message), GET /whoami. */
function authRoutes(app: Express, passport: ReturnType<typeof localPassport>) {
  app.use(passport.initialize());
  app.use(passport.session());
  app.post('/login', passport.authenticate('local'), (req, res) => {
    (req.session as unknown as Record<string, unknown>).cart = ['book'];
    req.flash('info', 'Welcome back');
    res.json(req.user);
  });
  app.get('/whoami', (req, res) => {
    res.json({ user: req.user ?? null });
  });
}

/** express-session 1.19 (+ connect-flash), as its README sets it up. */
export function expressSessionApp(options: {
  store: session.Store;
  secret: string | string[];
  name?: string;
}): Express {
  const app = express();
  app.use(express.json());
  app.use(
    session({
      store: options.store,
      secret: options.secret,
      name: options.name,
      resave: false,
      saveUninitialized: false,
    }),
  );
  app.use(flash());
  authRoutes(app, localPassport());
  return app;
}

/** cookie-session 2.1, with the regenerate/save shim passport 0.6+ needs on it. */
export function cookieSessionApp(options: { keys: string[]; name?: string }): Express {
  const app = express();
  app.use(express.json());
  app.use(cookieSession({ name: options.name ?? 'session', keys: options.keys }));
  app.use((req, _res, next) => {
    const s = req.session as unknown as Record<string, unknown> | null;
    if (s && typeof s.regenerate !== 'function') {
      Object.defineProperty(s, 'regenerate', { value: (cb: () => void) => cb(), enumerable: false });
      Object.defineProperty(s, 'save', { value: (cb: () => void) => cb(), enumerable: false });
    }
    next();
  });
  app.use(flash());
  authRoutes(app, localPassport());
  return app;
}

/** Fastify 5 with @fastify/cookie, @fastify/session 11 and @fastify/passport 4 (an instance of its own). */
export async function fastifySessionApp(options: {
  store: NonNullable<Parameters<typeof fastifySession>[1]['store']>;
  secret: string | string[];
}): Promise<FastifyInstance> {
  const app = Fastify();
  const passport = new fastifyPassport.Authenticator();
  passport.use('local', new LocalStrategy(verify));
  passport.registerUserSerializer(async (user: User) => user.id);
  passport.registerUserDeserializer(async (id: number) => USERS.find((u) => u.id === id) ?? null);
  await app.register(fastifyCookie);
  await app.register(fastifySession, {
    secret: options.secret,
    store: options.store,
    saveUninitialized: false,
    cookie: { secure: false },
  });
  await app.register(passport.initialize());
  await app.register(passport.secureSession());
  app.post('/login', { preValidation: passport.authenticate('local') }, async (req) => {
    (req.session as unknown as { set(key: string, value: unknown): void }).set('cart', ['book']);
    return req.user;
  });
  await app.ready();
  return app;
}

/** Signs a user in on an old app; resolves to the `Cookie` header its response set (name=value; ...). */
export async function signInOld(
  app: Express | FastifyInstance,
  username: string,
  password: string,
): Promise<string> {
  const server = 'server' in app && typeof app.ready === 'function' ? app.server : app;
  const res = await request(server as Express)
    .post('/login')
    .send({ username, password })
    .expect(200);
  const set = res.headers['set-cookie'] as unknown as string[] | undefined;
  if (set === undefined || set.length === 0) throw new Error('the old app set no cookie');
  return set.map((c) => c.split(';')[0]).join('; ');
}
