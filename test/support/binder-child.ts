// A process that binds sessions to one user on a database store (binder-process.ts starts it), for
// tests of users.maxPerUser across processes. argv[2]: JSON { dataSource, table, userId, count, max }.
// Sends 'ready' once its store has started; on 'go', applies `count` bindings at once under the limit
// ('reject') and sends { passed, refused }; closes on 'stop'.
import { randomBytes } from 'node:crypto';
import process from 'node:process';
import type { DataSourceOptions } from 'typeorm';
import { DatabaseStore } from '../../lib/stores/database/database.store.js';

const { dataSource, table, userId, count, max } = JSON.parse(process.argv[2]) as {
  dataSource: DataSourceOptions;
  table: string;
  userId: string;
  count: number;
  max: number;
};
// Processes take turns on a SQLite file: each waits for the others as long as the test may.
const store = new DatabaseStore({ dataSource, table, pruneInterval: 0 }, undefined, { busyTimeout: 20_000 });
await store.get('start');

process.on('message', async (message) => {
  if (message === 'go') {
    const results = await Promise.allSettled(
      Array.from({ length: count }, () => {
        const now = Date.now();
        return store.apply(
          randomBytes(32).toString('base64url'),
          {
            clearData: false,
            clearFlash: false,
            set: { by: process.pid },
            deleted: [],
            flash: {},
            flashCleared: {},
            user: { id: userId, signedInAt: now },
          },
          {
            createdAt: now,
            lastActivity: now,
            expiresAt: now + 3_600_000,
            create: true,
            limit: { max, onLimit: 'reject', until: now, revoked: [] },
          },
        );
      }),
    );
    process.send!({
      passed: results.filter((r) => r.status === 'fulfilled').length,
      refused: results.flatMap((r) => (r.status === 'rejected' ? [String(r.reason?.code ?? r.reason)] : [])),
    });
  } else if (message === 'stop') {
    await store.close();
    process.disconnect();
  }
});
process.send!('ready');
