import type { INestApplication } from '@nestjs/common';
import type { SessionModuleOptions } from 'nest-session';
import type { DataSourceOptions } from 'typeorm';
import { Redis } from 'ioredis';
import request from 'supertest';
import { platforms, type Platform } from '../support/app.js';
import { serverDatabase, sqliteDatabase, type TestDatabase } from '../support/services.js';
import { SECRET } from '../support/session-app.js';

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

const redisPrefix = `nest-session-stress:${process.pid}:`;

/** memory and SQLite always; PostgreSQL, MariaDB and Redis when their URLs are set (in CI they are). */
export function stressDrivers(): StressDriver[] {
  const drivers: StressDriver[] = [
    { name: 'memory', options: () => ({ driver: 'memory', secret: SECRET }), cleanup: async () => {} },
  ];
  const sqlite = sqliteDatabase();
  drivers.push(database('sqlite', sqlite));
  if (process.env.NEST_SESSION_PG_URL) drivers.push(database('postgres', serverDatabase('postgres')));
  if (process.env.NEST_SESSION_MARIADB_URL) drivers.push(database('mariadb', serverDatabase('mariadb')));
  const redisUrl = process.env.NEST_SESSION_REDIS_URL;
  if (redisUrl) {
    let n = 0;
    drivers.push({
      name: 'redis',
      url: redisUrl,
      options: (via) => ({
        driver: 'redis',
        secret: SECRET,
        redis: { url: via ?? redisUrl, prefix: `${redisPrefix}${++n}:` },
      }),
      cleanup: async () => {
        const redis = new Redis(redisUrl);
        const keys = await redis.keys(`${redisPrefix}*`);
        if (keys.length > 0) await redis.del(...keys);
        await redis.quit();
      },
    });
  }
  return drivers;
}

function database(name: string, db: TestDatabase): StressDriver {
  const server = db.name === 'sqlite' ? undefined : serverDatabase(db.name);
  return {
    name:
      db.name === 'sqlite'
        ? 'database (SQLite)'
        : `database (${name === 'postgres' ? 'PostgreSQL' : 'MariaDB'})`,
    url: server?.url,
    options: (via) => {
      const place = db.fresh();
      return {
        driver: 'database',
        secret: SECRET,
        database: {
          ...place,
          dataSource: patient(via && server ? server.via(via) : place.dataSource),
          pruneInterval: 0,
        },
      };
    },
    cleanup: () => db.cleanup(),
  };
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
