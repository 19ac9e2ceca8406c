import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { Sweeper } from '../../../lib/stores/sweeper.js';

function deferred<T>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

describe('Sweeper', () => {
  afterEach(() => {
    jest.useRealTimers();
  });

  it('runs one prune at a time: a call while one runs joins it', async () => {
    const first = deferred<number>();
    let sweeps = 0;
    const sweeper = new Sweeper(
      () => (sweeps++, first.promise),
      0,
      () => undefined,
    );
    const a = sweeper.run();
    const b = sweeper.run();
    expect(b).toBe(a);
    first.resolve(3);
    expect(await b).toBe(3);
    expect(sweeps).toBe(1);
    await sweeper.run();
    expect(sweeps).toBe(2);
  });

  it('tells how many records each prune that dropped some dropped, once per prune', async () => {
    const told: number[] = [];
    const counts = [2, 0, 5];
    const sweeper = new Sweeper(
      async () => counts.shift()!,
      0,
      () => undefined,
      (count) => told.push(count),
    );
    const joined = [sweeper.run(), sweeper.run()];
    expect(await Promise.all(joined)).toEqual([2, 2]);
    await sweeper.run();
    await sweeper.run();
    expect(told).toEqual([2, 5]);
  });

  it('schedules no interval when it is 0', () => {
    const sweeper = new Sweeper(
      async () => 0,
      0,
      () => undefined,
    );
    sweeper.start();
    expect(sweeper.scheduled).toBe(false);
  });

  it('sweeps every interval on a timer that does not keep the process alive, skipping a tick while one runs', async () => {
    jest.useFakeTimers();
    const slow = deferred<number>();
    let sweeps = 0;
    const sweeper = new Sweeper(
      () => (sweeps++, slow.promise),
      1000,
      () => undefined,
    );
    sweeper.start();
    sweeper.start();
    expect(sweeper.scheduled).toBe(true);
    expect(sweeper.keepsProcessAlive).toBe(false);
    jest.advanceTimersByTime(1000);
    expect(sweeps).toBe(1);
    jest.advanceTimersByTime(3000);
    expect(sweeps).toBe(1);
    slow.resolve(0);
    await sweeper.run();
    await sweeper.stop();
    expect(sweeper.scheduled).toBe(false);
  });

  it('reports a failed tick and keeps sweeping', async () => {
    jest.useFakeTimers();
    const failures: unknown[] = [];
    let sweeps = 0;
    const sweeper = new Sweeper(
      async () => {
        sweeps++;
        throw new Error('database down');
      },
      1000,
      (error) => failures.push(error),
    );
    sweeper.start();
    await jest.advanceTimersByTimeAsync(1000);
    await jest.advanceTimersByTimeAsync(1000);
    expect(sweeps).toBe(2);
    expect(failures.map((e) => (e as Error).message)).toEqual(['database down', 'database down']);
    await sweeper.stop();
  });

  it('stop() waits for the prune under way, and no tick starts afterwards', async () => {
    jest.useFakeTimers();
    const slow = deferred<number>();
    const sweeper = new Sweeper(
      () => slow.promise,
      1000,
      () => undefined,
    );
    sweeper.start();
    const running = sweeper.run();
    let stopped = false;
    const stopping = sweeper.stop().then(() => (stopped = true));
    await Promise.resolve();
    expect(stopped).toBe(false);
    slow.resolve(1);
    await stopping;
    expect(await running).toBe(1);
    sweeper.start();
    expect(sweeper.scheduled).toBe(false);
  });
});
