import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Injectable, Module, type INestApplication } from '@nestjs/common';
import { EventEmitterModule, OnEvent } from '@nestjs/event-emitter';
import { OnSessionEvent, SessionEvents, type SessionEvent } from 'nest-session';
import { agent, createApp, http, platforms } from '../support/app.js';
import { EventRecorder, eventsApp } from '../support/events-app.js';
import { RecordingLogger } from '../support/logger.js';
import { SECRET, sessionApp } from '../support/session-app.js';

/** Handlers that fail every way a handler can. */
@Injectable()
class FailingHandlers {
  @OnSessionEvent('created')
  throws(): void {
    throw new Error('a handler that throws');
  }

  @OnSessionEvent(['created', 'destroyed'])
  async rejects(): Promise<void> {
    throw new Error('a handler that rejects');
  }
}

/** What @nestjs/event-emitter's @OnEvent() hears of the forwarded events. */
@Injectable()
class EmitterListener {
  readonly heard: Array<[string, SessionEvent]> = [];

  @OnEvent('session.created')
  created(event: SessionEvent): void {
    this.heard.push(['session.created', event]);
  }

  @OnEvent('session.signedIn')
  signedIn(event: SessionEvent): void {
    this.heard.push(['session.signedIn', event]);
  }
}

describe.each(platforms)('SessionEvents wiring on %s', (platform) => {
  describe('handlers that fail', () => {
    const logger = new RecordingLogger();
    let app: INestApplication;
    let quiet: INestApplication;
    beforeAll(async () => {
      @Module({ providers: [FailingHandlers] })
      class Failing {}
      // The logger is the process's: the app that logs is made last.
      quiet = await createApp(platform, sessionApp({ secret: SECRET }));
      app = await createApp(platform, eventsApp({ secret: SECRET }, [Failing]), logger);
    });
    afterAll(async () => {
      await app.close();
      await quiet.close();
    });

    it('are logged, and the response is the one an app without them sends', async () => {
      const events = app.get(SessionEvents);
      const off = events.on('created', () => {
        throw new Error('an on() handler that throws');
      });
      const res = await http(app).post('/set').send({ a: 1 }).expect(200);
      const same = await http(quiet).post('/set').send({ a: 1 }).expect(200);
      off();
      expect(res.body).toEqual(same.body);
      expect(res.headers['set-cookie']).toHaveLength(1);
      expect(Object.keys(res.headers).sort()).toEqual(Object.keys(same.headers).sort());
      // The handlers after a failing one still ran.
      expect(app.get(EventRecorder).names()).toEqual(['created']);
      const failures = logger.errors().filter((m) => m.includes("session event 'created' failed"));
      expect(failures).toHaveLength(3);
      for (const told of ['a handler that throws', 'a handler that rejects', 'an on() handler that throws'])
        expect(failures.some((m) => m.includes(told))).toBe(true);
    });
  });

  describe('SessionEvents and EventEmitter2', () => {
    let app: INestApplication;
    beforeAll(async () => {
      @Module({ providers: [EmitterListener] })
      class Listening {}
      app = await createApp(
        platform,
        eventsApp({ secret: SECRET }, [EventEmitterModule.forRoot(), Listening]),
      );
    });
    afterAll(() => app.close());

    it("forwards every event to the app's EventEmitter2 as 'session.<name>'", async () => {
      const listener = app.get(EmitterListener);
      const res = await http(app).post('/users/sign-in/emitted').expect(200);
      expect(listener.heard).toEqual([
        ['session.created', expect.objectContaining({ name: 'created', handle: res.body.handle })],
        ['session.signedIn', expect.objectContaining({ name: 'signedIn', userId: 'emitted' })],
      ]);
    });

    it('on() unsubscribes; once() hears one event; observe() is an Observable of them', async () => {
      const events = app.get(SessionEvents);
      const heard: string[] = [];
      const off = events.on(['created', 'destroyed'], (e) => void heard.push(`on:${e.name}`));
      events.once('created', (e) => void heard.push(`once:${e.name}`));
      const observed: string[] = [];
      const subscription = events.observe('destroyed').subscribe((e) => observed.push(e.handle!));
      const browser = agent(app);
      await browser.post('/set').send({ a: 1 }).expect(200);
      const handle = (await browser.get('/users/me').expect(200)).body.handle;
      await browser.post('/destroy').expect(200);
      off();
      subscription.unsubscribe();
      await agent(app).post('/set').send({ a: 1 }).expect(200);
      await agent(app).post('/destroy').expect(200);
      expect(heard).toEqual(['on:created', 'once:created', 'on:destroyed']);
      expect(observed).toEqual([handle]);
      expect(() => events.on('nope' as never, () => undefined)).toThrow(
        "'nope' is not a session event; the events are 'created'",
      );
    });
  });

  describe('when nobody listens', () => {
    let app: INestApplication;
    beforeAll(async () => {
      app = await createApp(platform, sessionApp({ secret: SECRET }));
    });
    afterAll(() => app.close());

    it('is not listening, so no event is made; one handler is enough, and its off() ends it', async () => {
      const events = app.get(SessionEvents);
      const browser = agent(app);
      await browser.post('/set').send({ a: 1 }).expect(200);
      await browser.post('/regenerate').expect(200);
      await browser.post('/destroy').expect(200);
      expect(events.listening).toBe(false);

      const heard: string[] = [];
      const off = events.on('created', (e) => void heard.push(e.name));
      expect(events.listening).toBe(true);
      await agent(app).post('/set').send({ a: 1 }).expect(200);
      off();
      expect(events.listening).toBe(false);
      await agent(app).post('/set').send({ a: 1 }).expect(200);
      expect(heard).toEqual(['created']);
    });
  });
});
