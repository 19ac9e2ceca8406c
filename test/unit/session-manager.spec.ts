import { describe, expect, it } from '@jest/globals';
import { SessionConfigError } from '../../lib/session.errors.js';
import { SessionManager } from '../../lib/session-manager.js';
import type { SessionStore } from '../../lib/stores/session-store.js';
import { MapStore } from '../support/stores.js';

const secret = 'a-test-secret-that-is-long-enough-0123456789';

/** A store with the start-up check power, and the close power, that records both. */
class CheckedStore extends MapStore {
  readonly calls: string[] = [];
  constructor(private readonly problem?: string) {
    super();
  }
  async checkAtStartup(): Promise<void> {
    this.calls.push('check');
    if (this.problem) throw new SessionConfigError('SESSION_OPTION_INVALID', this.problem);
  }
  async close(): Promise<void> {
    this.calls.push('close');
  }
}

describe('SessionManager', () => {
  it('registers every built-in store of the catalog, and the cookie driver', () => {
    const manager = new SessionManager({ secret });
    expect(manager.store('memory').constructor.name).toBe('MemoryStore');
    expect(manager.store('file').constructor.name).toBe('FileStore');
    expect(manager.store('database').constructor.name).toBe('DatabaseStore');
    expect(manager.store('redis').constructor.name).toBe('RedisStore');
    expect(() => manager.store('cookie')).toThrow(
      "SESSION_NO_STORE: the 'cookie' driver keeps sessions in cookies, not in a store",
    );
  });

  it('gives the factory of a store registered with extend() the resolved options', () => {
    const manager = new SessionManager({ secret, maxSize: 1234 });
    let seen: number | undefined;
    const store = new MapStore();
    manager.extend('map', (options) => ((seen = options.maxSize), store));
    expect(manager.store('map')).toBe(store);
    expect(seen).toBe(1234);
  });

  it('uses Session and driver() only inside a request', () => {
    const manager = new SessionManager({ secret });
    expect(() => manager.driver()).toThrow(/^SESSION_OUTSIDE_REQUEST: /);
    expect(() => manager.session.get('x')).toThrow(/^SESSION_OUTSIDE_REQUEST: /);
  });

  it('at start-up, builds the default driver and runs its start-up check power; a failing one stops the app', async () => {
    const ok = new CheckedStore();
    const manager = new SessionManager({ secret, driver: 'checked' });
    manager.extend('checked', () => ok);
    await manager.checkDrivers();
    expect(ok.calls).toEqual(['check']);

    const failing = new SessionManager({ secret, driver: 'checked' });
    failing.extend('checked', () => new CheckedStore('set checked.url'));
    await expect(failing.checkDrivers()).rejects.toThrow('SESSION_OPTION_INVALID: set checked.url');
  });

  it('at start-up, builds every built-in driver whose options were given, not the others', async () => {
    const manager = new SessionManager({ secret, redis: { url: 'redis://127.0.0.1:1' } });
    const built: string[] = [];
    for (const name of ['redis', 'file']) {
      manager.extend(name, () => (built.push(name), new MapStore() as SessionStore));
    }
    await manager.checkDrivers();
    expect(built).toEqual(['redis']);
  });

  it('closes the stores it built on shutdown, with their close power', async () => {
    const store = new CheckedStore();
    const manager = new SessionManager({ secret, driver: 'checked' });
    manager.extend('checked', () => store);
    manager.store('checked');
    await manager.onApplicationShutdown();
    expect(store.calls).toEqual(['close']);
  });
});
