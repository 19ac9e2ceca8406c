import { describe, expect, it } from '@jest/globals';
import {
  isClosable,
  isDiagnosing,
  isPrunable,
  isStartupChecked,
  isSynchronous,
  type SessionStore,
} from '../../../lib/stores/session-store.js';
import { MemoryStore } from '../../../lib/stores/memory.store.js';
import { MapStore } from '../../support/stores.js';

const fn = () => undefined;

describe('store powers', () => {
  it('are found through their guards only when every method of the power is there', () => {
    const plain: SessionStore = new MapStore();
    expect(
      [isPrunable, isClosable, isSynchronous, isStartupChecked, isDiagnosing].map((g) => g(plain)),
    ).toEqual([false, false, false, false, false]);
    const withAll = Object.assign(new MapStore(), {
      prune: fn,
      close: fn,
      getNow: fn,
      applyNow: fn,
      retireNow: fn,
      destroyNow: fn,
      checkAtStartup: fn,
      misconfiguration: fn,
    });
    expect(
      [isPrunable, isClosable, isSynchronous, isStartupChecked, isDiagnosing].map((g) => g(withAll)),
    ).toEqual([true, true, true, true, true]);
  });

  it('the synchronous power needs retireNow too, which the driver calls on regenerate()', () => {
    const withoutRetire = Object.assign(new MapStore(), { getNow: fn, applyNow: fn, destroyNow: fn });
    expect(isSynchronous(withoutRetire)).toBe(false);
    expect(isSynchronous(new MemoryStore({ max: 10 }))).toBe(true);
  });
});
