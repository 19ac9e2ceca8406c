import type { SessionModuleOptions } from 'nest-session';
import type { DataSourceOptions } from 'typeorm';

export const DRIVERS = ['memory', 'cookie', 'database', 'redis'] as const;

const DAY = 24 * 60 * 60 * 1000;

/**
 * The session options the sample runs with, from the environment:
 * SESSION_DRIVER (default 'database': SQLite in ./sessions.sqlite), DATABASE_URL (postgres://,
 * mysql://, or a SQLite file path), REDIS_URL, SESSION_SECRET (read by the library itself).
 */
export function sessionOptions(env: NodeJS.ProcessEnv = process.env): SessionModuleOptions {
  const driver = env.SESSION_DRIVER || 'database';
  if (!(DRIVERS as readonly string[]).includes(driver)) {
    throw new Error(`SESSION_DRIVER must be one of ${DRIVERS.join(', ')} (got '${driver}')`);
  }
  const options: SessionModuleOptions = {
    driver,
    // "Keep me signed in": a policy of its own, chosen at sign-in.
    policies: { remember: { idleTimeout: 30 * DAY, lifetime: 90 * DAY } },
  };
  // "Your devices" lists and signs out the sessions of a user: every server-side driver keeps the
  // index; cookie sessions are made revocable by a revocation record per user, here in memory.
  options.users = driver === 'cookie' ? { revocationStore: 'memory' } : {};
  if (driver === 'database' && env.DATABASE_URL) {
    options.database = { dataSource: dataSourceOptions(env.DATABASE_URL) };
  }
  if (driver === 'redis' && env.REDIS_URL) options.redis = { url: env.REDIS_URL };
  return options;
}

/** TypeORM DataSource options for a DATABASE_URL: postgres://, mysql:// (or mariadb://), else a SQLite file. */
export function dataSourceOptions(url: string): DataSourceOptions {
  if (/^postgres(ql)?:\/\//i.test(url)) return { type: 'postgres', url };
  if (/^(mysql|mariadb):\/\//i.test(url)) return { type: 'mysql', url: url.replace(/^mariadb:/i, 'mysql:') };
  return { type: 'better-sqlite3', database: url.replace(/^sqlite:(\/\/)?/i, ''), enableWAL: true };
}
