import { afterAll, describe, expect, it } from '@jest/globals';
import {
  Body,
  Controller,
  Get,
  HttpCode,
  Module,
  Param,
  Post,
  Query,
  Redirect,
  Req,
  type INestApplication,
} from '@nestjs/common';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nunjucks from 'nunjucks';
import { Session, SessionManager, SessionModule, type SessionModuleOptions } from 'nest-session';
import { agent, cookiePair, createApp, platforms, type Platform } from '../support/app.js';
import { sqliteDatabase } from '../support/services.js';
import { SECRET } from '../support/session-app.js';
import { root } from '../support/typecheck.js';

// What the session docs of Masonite, Lucid, alexedwards/scs and Prologue show, each call beside
// the nest-session call that does the same, exercised over real HTTP on Express and Fastify. The
// tables below read as the README's "Migrating" section.

/** Masonite's helpers/messages.html, as its docs show it, rendered with the `session()` helper. */
const MESSAGES = `{% if session().has('success') %}<div class="alert alert-success">{{ session().get('success') }}</div>
{% elif session().has('warning') %}<div class="alert alert-warning">{{ session().get('warning') }}</div>
{% endif %}`;

/** Each call those docs show, as a route doing it with nest-session. */
@Controller()
class FrameworkController {
  private readonly views = new nunjucks.Environment(null, { autoescape: true });

  constructor(
    private readonly session: Session,
    private readonly sessions: SessionManager,
  ) {
    // Masonite's template helper: session() is the request's default-driver session.
    this.views.addGlobal('session', () => this.session);
  }

  @Post('set')
  @HttpCode(200)
  set(@Body() body: Record<string, unknown>) {
    for (const [key, value] of Object.entries(body)) this.session.set(key, value);
    return this.session.all();
  }

  @Get('get/:key')
  get(@Param('key') key: string) {
    return { value: this.session.get(key) ?? null };
  }

  @Get('has/:key')
  has(@Param('key') key: string) {
    return { has: this.session.has(key) };
  }

  @Get('all')
  all() {
    return this.session.all();
  }

  @Post('delete/:key')
  @HttpCode(200)
  delete(@Param('key') key: string) {
    this.session.delete(key);
    return this.session.all();
  }

  @Post('flash')
  @Redirect('/all', 302)
  flash(@Body() body: Record<string, unknown>) {
    for (const [key, value] of Object.entries(body)) this.session.flash(key, value);
  }

  @Get('flash/:key')
  getFlash(@Param('key') key: string) {
    return { value: this.session.getFlash(key) ?? null };
  }

  @Post('reset')
  @HttpCode(200)
  reset(@Query('flashOnly') flashOnly?: string) {
    this.session.reset({ flashOnly: flashOnly === 'true' });
    return { data: this.session.all(), flash: this.session.flashes() };
  }

  @Get('id')
  id() {
    return { id: this.session.id };
  }

  @Post('regenerate')
  @HttpCode(200)
  regenerate() {
    this.session.regenerate();
    return { id: this.session.id };
  }

  @Post('destroy')
  @HttpCode(200)
  destroy() {
    this.session.destroy();
    return { ok: true };
  }

  @Post('driver/:name')
  @HttpCode(200)
  onDriver(@Param('name') name: string, @Body() body: Record<string, unknown>) {
    for (const [key, value] of Object.entries(body)) this.sessions.driver(name).set(key, value);
    return { default: this.session.all(), [name]: this.sessions.driver(name).all() };
  }

  @Get('driver/:name')
  readDriver(@Param('name') name: string) {
    return { default: this.session.all(), [name]: this.sessions.driver(name).all() };
  }

  /** Masonite's `request().session.flash(...)`, then a redirect. */
  @Post('request-session/flash')
  @Redirect('/messages', 302)
  requestSessionFlash(@Req() req: any) {
    req.session.flash('success', 'Your action is successful');
  }

  @Get('messages')
  messages() {
    return this.views.renderString(MESSAGES, {});
  }

  /** alexedwards/scs's example Index and About handlers: print the previous page, remember this one. */
  @Get('visit/:page')
  visit(@Param('page') page: string) {
    const previous = this.session.get('page_key') ?? null;
    this.session.set('page_key', `Last visited the ${page} page`);
    return { previous };
  }

  /** Prologue's login: `ctx.session["flywind"] = "123"`. */
  @Get('prologue/login')
  prologueLogin(@Req() req: any) {
    req.session.flywind = '123';
    req.session.ordontfly = '345';
    return '<h1>Hello, Prologue!</h1>';
  }

  /** Prologue's logout: `resp $ctx.session`. */
  @Get('prologue/logout')
  prologueLogout(@Req() req: any) {
    return req.session.all();
  }

  /** Prologue's hello: `ctx.flash("Please retry again!")` (level Info), or another level. */
  @Get('prologue/hello')
  prologueHello(@Query('level') level = 'info', @Query('msg') msg = 'Please retry again!') {
    this.session.pushFlash(level, msg);
    return 'Hello, world';
  }

  /** Prologue's tea: `ctx.getFlashedMsg(FlashLevel.Info)`, read once. */
  @Get('prologue/tea')
  prologueTea(@Query('level') level = 'info') {
    const [msg] = this.session.pullFlash(level);
    return msg === undefined ? 'My tea' : String(msg);
  }
}

@Module({ controllers: [FrameworkController] })
class FrameworkModule {}

type Driver = 'memory' | 'cookie' | 'file' | 'database';
type Agent = ReturnType<typeof agent>;

interface Call {
  /** What the framework's docs show. */
  shows: string;
  /** The nest-session call that does the same. */
  nest: string;
  /** The default driver of the app it runs on: `SessionModule.forRoot(driver)`. */
  driver: Driver;
  /** Does it over HTTP, with a client that keeps its cookies. */
  run: (client: Agent, context: { app: INestApplication; directory: string }) => Promise<void>;
}

/** A call that needs a server (Redis, PostgreSQL, MariaDB): exercised by the services suite. */
interface ServiceCall {
  shows: string;
  nest: string;
  /** The services suite file and the conformance suite it runs there. */
  suite: string;
  label: string;
}

interface Framework {
  name: string;
  calls: Call[];
  services?: ServiceCall[];
}

const PAGE = 'Last visited the index page';

const frameworks: Framework[] = [
  {
    name: 'Masonite',
    calls: [
      {
        shows: "SessionProvider; def show(self, Session): Session.set('key', 'value')",
        nest: "SessionModule.forRoot(); constructor(private session: Session); session.set('key', 'value')",
        driver: 'memory',
        run: async (c) => {
          await c.post('/set').send({ key: 'value' }).expect(200, { key: 'value' });
          await c.get('/get/key').expect(200, { value: 'value' });
        },
      },
      {
        shows: "Session.get('key')",
        nest: "session.get('key')",
        driver: 'memory',
        run: async (c) => {
          await c.post('/set').send({ key: 'value' }).expect(200);
          await c.get('/get/key').expect(200, { value: 'value' });
          await c.get('/get/other').expect(200, { value: null });
        },
      },
      {
        shows: "Session.has('key')",
        nest: "session.has('key')",
        driver: 'memory',
        run: async (c) => {
          await c.get('/has/key').expect(200, { has: false });
          await c.post('/set').send({ key: 'value' }).expect(200);
          await c.get('/has/key').expect(200, { has: true });
        },
      },
      {
        shows: "Session.all() # {'key': 'value'}",
        nest: 'session.all()',
        driver: 'memory',
        run: async (c) => {
          await c.post('/set').send({ key: 'value' }).expect(200);
          await c.post('/flash').send({ success: 'not data' }).expect(302);
          await c.get('/all').expect(200, { key: 'value' });
        },
      },
      {
        shows:
          "Session.flash('success', 'Your action is successful'); return request().redirect('/dashboard')",
        nest: "session.flash('success', '...') with @Redirect('/dashboard')",
        driver: 'memory',
        run: async (c) => {
          await c.post('/flash').send({ success: 'Your action is successful' }).expect(302);
          await c.get('/flash/success').expect(200, { value: 'Your action is successful' });
        },
      },
      {
        shows: 'flash data is reset at the end of a successful 200 OK request',
        nest: 'flash is cleared by the first 2xx response after it (a 3xx, 4xx or 5xx keeps it)',
        driver: 'memory',
        run: async (c) => {
          await c.post('/flash').send({ success: 'once' }).expect(302);
          await c.get('/has/success').expect(200, { has: true });
          await c.get('/has/success').expect(200, { has: false });
        },
      },
      {
        shows: "{% if session().has('success') %}{{ session().get('success') }}{% endif %}",
        nest: "the same template, with env.addGlobal('session', () => app.get(Session)) (Nunjucks)",
        driver: 'memory',
        run: async (c) => {
          await c.post('/flash').send({ warning: 'Careful <now>' }).expect(302);
          const shown = await c.get('/messages').expect(200);
          expect(shown.text.trim()).toBe('<div class="alert alert-warning">Careful &lt;now&gt;</div>');
          const after = await c.get('/messages').expect(200);
          expect(after.text.trim()).toBe('');
        },
      },
      {
        shows: "request().session.flash('success', 'Your action is successful')",
        nest: "req.session.flash('success', '...') (req.session is the Session, on Express and Fastify)",
        driver: 'memory',
        run: async (c) => {
          const res = await c.post('/request-session/flash').expect(302);
          expect(res.headers.location).toBe('/messages');
          const shown = await c.get('/messages').expect(200);
          expect(shown.text.trim()).toBe('<div class="alert alert-success">Your action is successful</div>');
        },
      },
      {
        shows: "SessionManager.driver('cookie').set('key', 'value')",
        nest: "constructor(private sessions: SessionManager); sessions.driver('cookie').set('key', 'value')",
        driver: 'memory',
        run: async (c) => {
          const res = await c.post('/driver/cookie').send({ key: 'value' }).expect(200);
          expect(res.body).toEqual({ default: {}, cookie: { key: 'value' } });
          expect(cookiePair(res, 'nest_session_cookie')).toBeDefined();
          await c.get('/driver/cookie').expect(200, { default: {}, cookie: { key: 'value' } });
        },
      },
      {
        shows: 'Session.reset()',
        nest: 'session.reset()',
        driver: 'memory',
        run: async (c) => {
          await c.post('/set').send({ key: 'value' }).expect(200);
          await c.post('/flash').send({ success: 'x' }).expect(302);
          await c.post('/reset').expect(200, { data: {}, flash: {} });
          await c.get('/all').expect(200, {});
        },
      },
      {
        shows: 'Session.reset(flash_only=True)',
        nest: 'session.reset({ flashOnly: true })',
        driver: 'memory',
        run: async (c) => {
          await c.post('/set').send({ key: 'value' }).expect(200);
          await c.post('/flash').send({ success: 'x' }).expect(302);
          await c.post('/reset?flashOnly=true').expect(200, { data: { key: 'value' }, flash: {} });
        },
      },
      {
        shows: "the memory driver (the default), keyed by the user's IP address",
        nest: "forRoot('memory') (the default), keyed by a signed random id in a cookie, never by IP",
        driver: 'memory',
        run: async (c, { app }) => {
          await c.post('/set').send({ mine: true }).expect(200);
          await agent(app).get('/all').expect(200, {});
          await c.get('/all').expect(200, { mine: true });
        },
      },
      {
        shows: 'the cookie driver: session data encrypted with the secret key',
        nest: "forRoot('cookie'): the session sealed (XChaCha20-Poly1305 or AES-256-GCM) in the cookie",
        driver: 'cookie',
        run: async (c) => {
          const res = await c.post('/set').send({ key: 'secret value' }).expect(200);
          const pair = cookiePair(res, 'nest_session')!;
          expect(decodeURIComponent(pair)).not.toContain('secret value');
          await c.get('/get/key').expect(200, { value: 'secret value' });
        },
      },
    ],
  },
  {
    name: 'Lucid (Go)',
    calls: [
      {
        shows: 'ses.Set("key", 100)',
        nest: "session.set('key', 100)",
        driver: 'file',
        run: async (c) => {
          await c.post('/set').send({ key: 100 }).expect(200, { key: 100 });
        },
      },
      {
        shows: 'ses.Get("key")',
        nest: "session.get('key')",
        driver: 'file',
        run: async (c) => {
          await c.post('/set').send({ authenticated: 7 }).expect(200);
          await c.get('/get/authenticated').expect(200, { value: 7 });
        },
      },
      {
        shows: 'ses.Destroy("key")',
        nest: "session.delete('key')",
        driver: 'file',
        run: async (c) => {
          await c.post('/set').send({ key: 100, other: 1 }).expect(200);
          await c.post('/delete/key').expect(200, { other: 1 });
          await c.get('/get/key').expect(200, { value: null });
        },
      },
      {
        shows: 'ses.SetFlash("message", "Hello Jane!")',
        nest: "session.flash('message', 'Hello Jane!')",
        driver: 'file',
        run: async (c) => {
          await c.post('/flash').send({ message: 'Hello Jane!' }).expect(302);
          await c.get('/flash/message').expect(200, { value: 'Hello Jane!' });
        },
      },
      {
        shows: 'ses.GetFlash("message")',
        nest: "session.getFlash('message') (or @Flash('message') in a handler)",
        driver: 'file',
        run: async (c) => {
          await c.post('/flash').send({ message: 'Hello Jane!' }).expect(302);
          await c.get('/flash/message').expect(200, { value: 'Hello Jane!' });
          await c.get('/flash/message').expect(200, { value: null });
        },
      },
      {
        shows:
          'ses.SetFlashMap("messages", map[string]interface{}{"john": "Hello Jane!", "jane": "Hi John!"})',
        nest: "session.flash('messages', { john: 'Hello Jane!', jane: 'Hi John!' })",
        driver: 'file',
        run: async (c) => {
          await c
            .post('/flash')
            .send({ messages: { john: 'Hello Jane!', jane: 'Hi John!' } })
            .expect(302);
          await c.get('/all').expect(200, {});
        },
      },
      {
        shows: 'ses.GetFlashMap("messages")',
        nest: "session.getFlash('messages'): the whole map, on the next request",
        driver: 'file',
        run: async (c) => {
          const messages = { john: 'Hello Jane!', jane: 'Hi John!' };
          await c.post('/flash').send({ messages }).expect(302);
          await c.get('/flash/messages').expect(200, { value: messages });
          await c.get('/flash/messages').expect(200, { value: null });
        },
      },
      {
        shows: 'session.File(w, r)',
        nest: "SessionModule.forRoot({ driver: 'file', file: { directory } }): one JSON file per session",
        driver: 'file',
        run: async (c, { directory }) => {
          await c.post('/set').send({ language: 'id' }).expect(200);
          const { id } = (await c.get('/id').expect(200)).body;
          expect(readdirSync(directory)).toContain(`${id}.json`);
          expect(JSON.parse(readFileSync(join(directory, `${id}.json`), 'utf8')).data).toEqual({
            language: 'id',
          });
        },
      },
      {
        shows: 'session.Cookie(w, r)',
        nest: "SessionModule.forRoot('cookie')",
        driver: 'cookie',
        run: async (c) => {
          await c.post('/set').send({ theme: 'dark' }).expect(200);
          await c.get('/get/theme').expect(200, { value: 'dark' });
        },
      },
      {
        shows: 'session.Database(w, r)',
        nest: "SessionModule.forRoot('database') (SQLite by default; PostgreSQL, MySQL/MariaDB)",
        driver: 'database',
        run: async (c) => {
          await c.post('/set').send({ theme: 'dark' }).expect(200);
          await c.get('/get/theme').expect(200, { value: 'dark' });
        },
      },
    ],
    services: [
      {
        shows: 'session.Redis(w, r)',
        nest: "SessionModule.forRoot({ driver: 'redis', redis: { url } })",
        suite: 'test/services/redis.spec.ts',
        label: "sessionConformance('redis driver'",
      },
    ],
  },
  {
    name: 'alexedwards/scs (Go)',
    calls: [
      {
        shows: 'session := sessions.Retrieve(r); session.Set("page_key", "Last visited the index page")',
        nest: "constructor(private session: Session); session.set('page_key', '...')",
        driver: 'database',
        run: async (c) => {
          await c.get('/visit/index').expect(200, { previous: null });
          await c.get('/get/page_key').expect(200, { value: PAGE });
        },
      },
      {
        shows: 'session.Get("page_key") // nil on the first visit, then the last page',
        nest: "session.get('page_key')",
        driver: 'database',
        run: async (c) => {
          await c.get('/visit/index').expect(200, { previous: null });
          await c.get('/visit/about').expect(200, { previous: PAGE });
          await c.get('/visit/about').expect(200, { previous: 'Last visited the about page' });
        },
      },
      {
        shows: 'session.Exists("page_key")',
        nest: "session.has('page_key')",
        driver: 'database',
        run: async (c) => {
          await c.get('/has/page_key').expect(200, { has: false });
          await c.get('/visit/index').expect(200);
          await c.get('/has/page_key').expect(200, { has: true });
        },
      },
      {
        shows: 'session.Delete("page_key")',
        nest: "session.delete('page_key')",
        driver: 'database',
        run: async (c) => {
          await c.get('/visit/index').expect(200);
          await c.post('/delete/page_key').expect(200, {});
          await c.get('/has/page_key').expect(200, { has: false });
        },
      },
      {
        shows: 'session.Destroy()',
        nest: 'session.destroy()',
        driver: 'database',
        run: async (c) => {
          await c.get('/visit/index').expect(200);
          const res = await c.post('/destroy').expect(200);
          expect(cookiePair(res, 'nest_session')).toBe('nest_session=');
          await c.get('/all').expect(200, {});
        },
      },
      {
        shows: 'session.RenewToken()',
        nest: 'session.regenerate() (new id, data kept, the old id retired)',
        driver: 'database',
        run: async (c, { app }) => {
          const first = await c.get('/visit/index').expect(200);
          const before = (await c.get('/id').expect(200)).body.id;
          const renewed = await c.post('/regenerate').expect(200);
          expect(renewed.body.id).not.toBe(before);
          await c.get('/get/page_key').expect(200, { value: PAGE });
          const old = cookiePair(first, 'nest_session')!;
          await agent(app).get('/all').set('Cookie', old).expect(200, {});
        },
      },
      {
        shows: 'the DATABASE setting: SQLite3',
        nest: "SessionModule.forRoot({ driver: 'database', database: { dataSource: { type: 'better-sqlite3', database } } })",
        driver: 'database',
        run: async (c) => {
          await c.get('/visit/about').expect(200);
          await c.get('/get/page_key').expect(200, { value: 'Last visited the about page' });
        },
      },
    ],
    services: [
      {
        shows: 'the DATABASE setting: PostgreSQL',
        nest: "database: { dataSource: { type: 'postgres', url } } (or the app's TypeORM DataSource)",
        suite: 'test/services/database-postgres.spec.ts',
        label: "sessionConformance('database driver on PostgreSQL'",
      },
      {
        shows: 'the DATABASE setting: MySQL',
        nest: "database: { dataSource: { type: 'mysql', url } } (MySQL and MariaDB)",
        suite: 'test/services/database-mariadb.spec.ts',
        label: "sessionConformance('database driver on MariaDB'",
      },
    ],
  },
  {
    name: 'Prologue (Nim)',
    calls: [
      {
        shows: 'app.use(sessionMiddleware(settings)) with signedcookiesession',
        nest: "SessionModule.forRoot('cookie') (sealed, not only signed: safe for real data)",
        driver: 'cookie',
        run: async (c) => {
          await c.get('/prologue/login').expect(200, '<h1>Hello, Prologue!</h1>');
          await c.get('/prologue/logout').expect(200, { flywind: '123', ordontfly: '345' });
        },
      },
      {
        shows: 'app.use(sessionMiddleware(settings)) with memorysession',
        nest: "SessionModule.forRoot('memory')",
        driver: 'memory',
        run: async (c) => {
          await c.get('/prologue/login').expect(200);
          await c.get('/prologue/logout').expect(200, { flywind: '123', ordontfly: '345' });
        },
      },
      {
        shows: 'ctx.session["flywind"] = "123"',
        nest: "req.session.flywind = '123' (or session.set('flywind', '123'))",
        driver: 'memory',
        run: async (c) => {
          await c.get('/prologue/login').expect(200);
          await c.get('/get/flywind').expect(200, { value: '123' });
        },
      },
      {
        shows: 'resp $ctx.session',
        nest: 'req.session.all() (or session.all())',
        driver: 'memory',
        run: async (c) => {
          await c.get('/prologue/logout').expect(200, {});
          await c.get('/prologue/login').expect(200);
          await c.get('/prologue/logout').expect(200, { flywind: '123', ordontfly: '345' });
        },
      },
      {
        shows: 'ctx.flash("Please retry again!"); ctx.getFlashedMsg(FlashLevel.Info) (read once)',
        nest: "session.pushFlash('info', 'Please retry again!'); session.pullFlash('info')[0]",
        driver: 'memory',
        run: async (c) => {
          await c.get('/prologue/hello').expect(200, 'Hello, world');
          await c.get('/prologue/tea').expect(200, 'Please retry again!');
          await c.get('/prologue/tea').expect(200, 'My tea');
        },
      },
      {
        shows: 'ctx.flash(msg, FlashLevel.Warning): messages by level',
        nest: "session.pushFlash('warning', msg); pullFlash('warning') reads that level only",
        driver: 'memory',
        run: async (c) => {
          await c.get('/prologue/hello?level=warning&msg=Low%20disk').expect(200);
          await c.get('/prologue/hello?msg=Saved').expect(200);
          await c.get('/prologue/tea?level=warning').expect(200, 'Low disk');
          await c.get('/prologue/tea?level=warning').expect(200, 'My tea');
          await c.get('/prologue/tea').expect(200, 'Saved');
        },
      },
      {
        shows: 'flash messages kept until visited, then popped from the session',
        nest: 'pushed messages survive 2xx responses until pullFlash() reads them',
        driver: 'memory',
        run: async (c) => {
          await c.get('/prologue/hello').expect(200);
          await c.get('/all').expect(200, {});
          await c.get('/messages').expect(200);
          await c.get('/prologue/tea').expect(200, 'Please retry again!');
        },
      },
    ],
    services: [
      {
        shows: 'app.use(sessionMiddleware(settings)) with redissession',
        nest: "SessionModule.forRoot({ driver: 'redis', redis: { url } })",
        suite: 'test/services/redis.spec.ts',
        label: "sessionConformance('redis driver'",
      },
    ],
  },
];

const db = sqliteDatabase();
const files = mkdtempSync(join(tmpdir(), 'nest-session-frameworks-'));

/** One app per platform and driver, built on first use. */
const apps = new Map<string, Promise<{ app: INestApplication; directory: string }>>();
function appFor(platform: Platform, driver: Driver) {
  const key = `${platform}:${driver}`;
  let entry = apps.get(key);
  if (entry === undefined) {
    const directory = join(files, key.replace(':', '-'));
    const options: SessionModuleOptions = {
      driver,
      secret: SECRET,
      file: { directory, pruneInterval: 0 },
      ...(driver === 'database' ? { database: db.fresh() } : {}),
    };
    @Module({ imports: [SessionModule.forRoot(options), FrameworkModule] })
    class FrameworkApp {}
    entry = createApp(platform, FrameworkApp).then((app) => ({ app, directory }));
    apps.set(key, entry);
  }
  return entry;
}

// The apps close before their files go.
afterAll(async () => {
  for (const entry of apps.values()) await (await entry).app.close();
  await db.cleanup();
  rmSync(files, { recursive: true, force: true });
});

describe.each(platforms)("what other frameworks' session docs show, on %s", (platform) => {
  describe.each(frameworks.map((framework) => [framework.name, framework] as const))(
    '%s',
    (_name, framework) => {
      it.each(framework.calls.map((call) => [call.shows, call.nest, call] as const))(
        '%s  ->  %s',
        async (_shows, _nest, call) => {
          const context = await appFor(platform, call.driver);
          await call.run(agent(context.app), context);
        },
      );
    },
  );
});

describe.each(
  frameworks
    .filter((framework) => framework.services)
    .map((framework) => [framework.name, framework] as const),
)("what other frameworks' session docs show, with a server: %s", (_name, framework) => {
  it.each(framework.services!.map((call) => [call.shows, call.nest, call] as const))(
    '%s  ->  %s: run by the services suite (npm run test:services)',
    (_shows, _nest, call) => {
      expect(readFileSync(join(root, call.suite), 'utf8')).toContain(call.label);
    },
  );
});
