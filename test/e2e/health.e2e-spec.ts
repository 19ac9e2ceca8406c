import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  Controller,
  Get,
  Module,
  type DynamicModule,
  type INestApplication,
  type Type,
} from '@nestjs/common';
import { HealthCheck, HealthCheckService, TerminusModule } from '@nestjs/terminus';
import { SessionHealthIndicator, type SessionModuleOptions } from 'nest-session';
import { createApp, http, platforms } from '../support/app.js';
import { EventRecorder, eventsApp } from '../support/events-app.js';
import { SECRET } from '../support/session-app.js';
import { SwitchableStore, extendModule } from '../support/stores.js';

/** A health endpoint as terminus's docs write one. */
@Controller('health')
class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly session: SessionHealthIndicator,
  ) {}

  @Get()
  @HealthCheck()
  check() {
    return this.health.check([() => this.session.isHealthy('session')]);
  }
}

@Module({ imports: [TerminusModule], controllers: [HealthController] })
class HealthModule {}

/** The indicator without terminus: what it answers, as it is. */
@Controller('plain-health')
class PlainHealthController {
  constructor(private readonly session: SessionHealthIndicator) {}

  @Get()
  check() {
    return this.session.isHealthy('store');
  }
}

@Module({ controllers: [PlainHealthController] })
class PlainHealthModule {}

const start = (
  platform: (typeof platforms)[number],
  options: SessionModuleOptions,
  extra: Array<Type | DynamicModule>,
) => createApp(platform, eventsApp({ secret: SECRET, ...options }, extra));

describe.each(platforms)('SessionHealthIndicator on %s', (platform) => {
  describe('with TerminusModule, on a store that goes down and comes back', () => {
    const store = new SwitchableStore();
    let app: INestApplication;
    beforeAll(async () => {
      app = await start(platform, { driver: 'switch' }, [extendModule('switch', () => store), HealthModule]);
    });
    afterAll(() => app.close());

    it('is up, then down (503, store.down reported), then up again', async () => {
      await http(app)
        .get('/health')
        .expect(200, {
          status: 'ok',
          info: { session: { status: 'up', driver: 'switch' } },
          error: {},
          details: { session: { status: 'up', driver: 'switch' } },
        });
      store.up = false;
      const down = await http(app).get('/health').expect(503);
      expect(down.body).toMatchObject({
        status: 'error',
        error: {
          session: {
            status: 'down',
            driver: 'switch',
            message: expect.stringContaining('SESSION_STORE_UNAVAILABLE'),
          },
        },
      });
      expect(app.get(EventRecorder).names()).toEqual(['store.down']);
      store.up = true;
      await http(app).get('/health').expect(200);
    });
  });

  describe('without terminus', () => {
    let app: INestApplication;
    beforeAll(async () => {
      app = await start(platform, { driver: 'cookie' }, [PlainHealthModule]);
    });
    afterAll(() => app.close());

    it("answers terminus's plain shape; the cookie driver keeps no store and is up", async () => {
      await http(app)
        .get('/plain-health')
        .expect(200, { store: { status: 'up', driver: 'cookie' } });
    });
  });
});
