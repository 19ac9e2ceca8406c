import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Controller, Get, Module, type INestApplication } from '@nestjs/common';
import { Session, SessionModule } from 'nest-session';
import { SessionTesting, type TestClock } from 'nest-session/testing';
import { RECOVERY_QUIET } from '../../lib/drivers/store-health.js';
import { createApp, http, platforms } from '../support/app.js';
import { RecordingLogger } from '../support/logger.js';
import { SECRET } from '../support/session-app.js';
import { SwitchableStore, extendModule } from '../support/stores.js';

// What reads time on a request reads the module's clock (forRoot({ clock })); the testing kit's
// suite (test/support/testing-kit.ts) runs every driver on a clock a year off the real time. Here:
// the store's health, whose quiet period before "available again" is time on that clock too.

@Controller()
class VisitsController {
  constructor(private readonly session: Session) {}

  @Get('visit')
  visit() {
    const visits = (this.session.get('visits', 0) as number) + 1;
    this.session.set('visits', visits);
    return { visits };
  }
}

describe.each(platforms)('the module clock on %s', (platform) => {
  const store = new SwitchableStore();
  const logger = new RecordingLogger();
  let clock: TestClock;
  let app: INestApplication;

  beforeAll(async () => {
    // Near the real time: SwitchableStore, a user's store, drops rows by the real clock.
    clock = SessionTesting.clock();
    @Module({
      imports: [
        SessionModule.forRoot({ driver: 'switchable', secret: SECRET, clock }),
        extendModule('switchable', () => store),
      ],
      controllers: [VisitsController],
    })
    class ClockModule {}
    app = await createApp(platform, ClockModule, logger);
  });
  afterAll(() => app.close());

  it('says a store is available again after RECOVERY_QUIET on the clock, not on the real time', async () => {
    const cookie = await SessionTesting.for(app).mint({ data: { visits: 1 } });
    store.up = false;
    await http(app).get('/visit').set('Cookie', cookie).expect(503);
    expect(logger.count('error', "The 'switchable' session store is unavailable")).toBe(1);
    store.up = true;
    await http(app).get('/visit').set('Cookie', cookie).expect(200, { visits: 2 });
    expect(logger.count('log', 'available again')).toBe(0);
    clock.advance(RECOVERY_QUIET);
    await http(app).get('/visit').set('Cookie', cookie).expect(200, { visits: 3 });
    expect(logger.count('log', "The 'switchable' session store is available again")).toBe(1);
  });
});
