import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Controller, HttpCode, Module, Post, type INestApplication, type Type } from '@nestjs/common';
import { Session, SessionModule } from 'nest-session';
import { join } from 'node:path';
import { agent, createApp, http, platforms } from '../support/app.js';
import { manualClock } from '../support/events-app.js';
import { readmeDirectory, sectionFiles, writeFiles } from '../support/readme.js';
import { SECRET } from '../support/session-app.js';

// The README's "Events" and "Idle warnings" code, copied into a directory as a reader copies it and
// run on both adapters: the Events app's own AppModule, and the idle controller in an app whose
// clock the test moves (no waiting for a session to end).

const MINUTE = 60_000;
const directory = readmeDirectory();
let events: {
  AppModule: Type;
  SessionAudit: Type<{ entries: Array<{ what: string; userId?: string; device?: string; at: Date }> }>;
  WelcomeListener: Type<{ signIns: number }>;
};
let SessionTimeoutController: Type;
beforeAll(async () => {
  writeFiles(join(directory.path, 'events'), sectionFiles('Events'));
  writeFiles(join(directory.path, 'idle'), sectionFiles('Idle warnings'));
  const src = (app: string, file: string) => import(join(directory.path, app, 'src', file));
  events = {
    ...(await src('events', 'app.module.ts')),
    ...(await src('events', 'session-audit.ts')),
    ...(await src('events', 'welcome.listener.ts')),
  };
  ({ SessionTimeoutController } = await src('idle', 'session-timeout.controller.ts'));
});
afterAll(() => directory.remove());

describe.each(platforms)("the README's Events app on %s", (platform) => {
  let app: INestApplication;
  beforeAll(async () => {
    app = await createApp(platform, events.AppModule);
  });
  afterAll(() => app.close());

  it('audits sign-in and sign-out, counts sign-ins through EventEmitter2, and reports the store up', async () => {
    const browser = agent(app);
    await browser.post('/sign-in').send({ email: 'ada@example.com' }).expect(204);
    await browser.post('/sign-out').expect(204);
    const { entries } = app.get(events.SessionAudit);
    expect(entries.map(({ what, userId }) => [what, userId])).toEqual([
      ['signedIn', 'ada@example.com'],
      ['signedOut', 'ada@example.com'],
    ]);
    expect(entries[0].device).toMatch(/^[A-Za-z0-9_-]{16}$/);
    expect(entries[0].device).toBe(entries[1].device);
    expect(app.get(events.WelcomeListener).signIns).toBe(1);
    await http(app)
      .get('/health')
      .expect(200)
      .expect(({ body }) => expect(body.info).toEqual({ session: { status: 'up', driver: 'memory' } }));
  });
});

/** What starts a session in the idle app: the page's sign-in. */
@Controller()
class SignIn {
  constructor(private readonly session: Session) {}

  @Post('sign-in')
  @HttpCode(204)
  signIn(): void {
    this.session.signIn('ada');
  }
}

describe.each(platforms)("the README's idle warnings on %s", (platform) => {
  const clock = manualClock();
  let app: INestApplication;
  beforeAll(async () => {
    @Module({
      imports: [
        SessionModule.forRoot({
          secret: SECRET,
          clock: clock.now,
          idleTimeout: 10 * MINUTE,
          lifetime: 60 * MINUTE,
        }),
      ],
      controllers: [SessionTimeoutController, SignIn],
    })
    class IdleApp {}
    app = await createApp(platform, IdleApp);
  });
  afterAll(() => app.close());

  it('polls without extending the session, warns two minutes before its end, and "stay" extends it', async () => {
    const browser = agent(app);
    await browser.post('/sign-in').expect(204);
    const poll = async () => (await browser.get('/session/time-left').expect(200)).body;
    clock.advance(5 * MINUTE);
    expect(await poll()).toEqual({ left: 5 * MINUTE, warn: false, canExtend: true });
    clock.advance(3 * MINUTE);
    expect(await poll()).toEqual({ left: 2 * MINUTE, warn: true, canExtend: true });
    await browser.post('/session/stay').expect(204);
    expect(await poll()).toEqual({ left: 10 * MINUTE, warn: false, canExtend: true });
    // Only polls from here: the session ends on time, and a poll says so.
    for (let i = 0; i < 10; i++) {
      clock.advance(MINUTE);
      expect((await poll()).left).toBe((9 - i) * MINUTE);
    }
    clock.advance(1);
    expect(await poll()).toEqual({ left: 10 * MINUTE, warn: false, canExtend: true });
  });
});
