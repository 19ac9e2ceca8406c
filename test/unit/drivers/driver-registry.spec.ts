import { describe, expect, it } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { SessionState } from '../../../lib/core/session-state.js';
import { DriverRegistry } from '../../../lib/drivers/driver-registry.js';
import type { SessionDriver } from '../../../lib/drivers/session-driver.js';
import { RecordingLogger } from '../../support/logger.js';

function driver(name: string, cookieName: string, closed: string[] = []): SessionDriver {
  return {
    name,
    cookieName,
    load: () => new SessionState(undefined, undefined, () => 'id'),
    commit: () => ({}),
    close: async () => void closed.push(name),
  };
}

function registry(logger = new RecordingLogger()) {
  return {
    logger,
    registry: new DriverRegistry('memory', 'sid', {
      error: (message: string) => logger.error(message),
    } as unknown as Logger),
  };
}

describe('DriverRegistry', () => {
  it('gives the default driver the cookie name and every other `<name>_<driver>`', () => {
    const { registry: r } = registry();
    r.register('memory', driver);
    r.register('cookie', driver);
    expect(r.driverOfCookie('sid')).toBe('memory');
    expect(r.driverOfCookie('sid_cookie')).toBe('cookie');
    expect(r.driverOfCookie('sid_memory')).toBeUndefined();
    expect(r.resolve('cookie').cookieName).toBe('sid_cookie');
  });

  it('builds a driver on first use, once', () => {
    const { registry: r } = registry();
    let built = 0;
    r.register('memory', (name, cookie) => (built++, driver(name, cookie)));
    expect(built).toBe(0);
    expect(r.resolve('memory')).toBe(r.resolve('memory'));
    expect(built).toBe(1);
  });

  it('names every built-in driver when a name is unknown', () => {
    const { registry: r } = registry();
    expect(() => r.resolve('mongo')).toThrow(
      "SESSION_DRIVER_UNKNOWN: no session driver named 'mongo'; use 'memory', 'cookie', 'file', 'database', 'redis' or register it with SessionManager.extend('mongo', factory)",
    );
  });

  it('tries a factory that threw again on the next use, logging it once until it builds', () => {
    const { registry: r, logger } = registry();
    let fail = true;
    r.register('redis', (name, cookie) => {
      if (fail) throw new Error('no client');
      return driver(name, cookie);
    });
    expect(() => r.resolve('redis')).toThrow('no client');
    expect(() => r.resolve('redis')).toThrow('no client');
    expect(logger.count('error', "The 'redis' session driver could not be built: no client")).toBe(1);
    fail = false;
    expect(r.resolve('redis').name).toBe('redis');
  });

  it('refuses to replace a driver that has been built', () => {
    const { registry: r } = registry();
    r.register('memory', driver);
    r.register('memory', driver); // not built yet: replacing is fine
    r.resolve('memory');
    expect(() => r.register('memory', driver)).toThrow(
      "SESSION_DRIVER_IN_USE: the 'memory' driver is already in use; extend() it before the first request",
    );
  });

  it('closes only the drivers it built', async () => {
    const { registry: r } = registry();
    const closed: string[] = [];
    r.register('memory', (name, cookie) => driver(name, cookie, closed));
    r.register('file', (name, cookie) => driver(name, cookie, closed));
    r.resolve('file');
    await r.close();
    expect(closed).toEqual(['file']);
  });
});
