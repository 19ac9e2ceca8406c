import type { INestApplication } from '@nestjs/common';
import type { SessionModuleOptions } from 'nest-session';
import type { DataSourceOptions } from 'typeorm';
import request from 'supertest';
import { platforms, type Platform } from '../support/app.js';
import { availableDrivers } from '../support/drivers.js';

/** `STRESS=full` runs the long mode and prints its figures; the default is the short mode CI runs. */
export const FULL = process.env.STRESS === 'full';
/** Short mode runs on Express only; full mode on both adapters. */
export const stressPlatforms: Platform[] = FULL ? platforms : ['express'];

export interface StressDriver {
  name: string;
  /** forRoot options, a place of its own each call; `via` replaces the server's URL (a proxy). */
  options(via?: string): SessionModuleOptions;
  /** The server's URL, for drivers that have one (outage tests). */
  url?: string;
  cleanup(): Promise<void>;
}

/** memory and SQLite always; PostgreSQL, MariaDB and Redis when their URLs are set (in CI they are). */
export function stressDrivers(): StressDriver[] {
  return availableDrivers(['memory', 'sqlite', 'postgres', 'mariadb', 'redis']).map((driver) => ({
    name: driver.label,
    url: driver.url,
    options: (via) => stressOptions(driver.options(via)),
    cleanup: () => driver.cleanup(),
  }));
}

/** The database driver's options without the sweep, and patient with a busy pool. */
function stressOptions(options: SessionModuleOptions): SessionModuleOptions {
  const { database } = options;
  if (options.driver !== 'database' || database === undefined) return options;
  // The catalog gives the options of a DataSource, never an open one.
  const dataSource = patient(database.dataSource as DataSourceOptions);
  return { ...options, database: { ...database, dataSource, pruneInterval: 0 } };
}

/**
 * 200 transactions queued on one session's row share a pool of 10 connections: on a loaded 2-core
 * machine the last ones wait for a connection longer than the 5 s the services suite allows
 * (a 503, "timeout exceeded when trying to connect"). The stress suite waits up to 60 s instead;
 * a refused connection (the outage test) still fails at once.
 */
function patient(options: DataSourceOptions): DataSourceOptions {
  return options.type === 'postgres' ? { ...options, connectTimeoutMS: 60_000 } : options;
}

/** Prints one line of figures (they go to the terminal and CI's log, past Jest's console capture). */
export function figure(line: string): void {
  process.stderr.write(`[stress] ${line}\n`);
}

/** Runs `count` tasks, at most `width` at a time. */
export async function pool<T>(count: number, width: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const results: T[] = new Array(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, count) }, async () => {
      while (next < count) {
        const i = next++;
        results[i] = await task(i);
      }
    }),
  );
  return results;
}

/** Counts unhandled rejections while it is on. */
export function rejectionCounter(): { count: () => number; off: () => void } {
  let count = 0;
  const on = () => count++;
  process.on('unhandledRejection', on);
  return { count: () => count, off: () => void process.off('unhandledRejection', on) };
}

/** A deterministic generator, so a failing run can be replayed (STRESS_SEED). */
export function random(seed = Number(process.env.STRESS_SEED ?? 20261129)): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type App = INestApplication;

/**
 * Requests to an app listening on a loopback port of its own (listened once: supertest on a bare
 * server listens and closes for every request, which would dominate the figures).
 */
export type Client = () => ReturnType<typeof request>;

export async function listening(app: INestApplication): Promise<Client> {
  await app.listen(0, '127.0.0.1');
  const url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  return () => request(url);
}
