import { afterAll, describe, expect, it } from '@jest/globals';
import { DatabaseStore } from '../../lib/stores/database.store.js';
import { seedSessions, idsIn } from '../support/seed-sessions.js';
import { serverDatabase } from '../support/services.js';

const databases = [serverDatabase('mariadb'), serverDatabase('postgres')];
afterAll(() => Promise.all(databases.map((db) => db.cleanup())));

describe.each(databases)('pruning a backlog on $name', (db) => {
  it('with two stores at once: every expired row goes, once, and no live row does', async () => {
    const place = db.fresh();
    const creator = new DatabaseStore({ ...place, pruneInterval: 0 });
    await creator.get('creates the table');
    await creator.close();
    const now = Date.now();
    await seedSessions(place, 'expired', 50_000, now - 1000);
    const live = await seedSessions(place, 'live', 3000, now + 3_600_000);

    const stores = [0, 1].map(() => new DatabaseStore({ ...place, pruneInterval: 0 }));
    await Promise.all(stores.map((store) => store.get('warm')));
    const pruned = await Promise.all(stores.map((store) => store.prune()));
    await Promise.all(stores.map((store) => store.close()));

    // Each row was counted by the store that deleted it: together, exactly the expired ones.
    expect(pruned[0] + pruned[1]).toBe(50_000);
    expect((await idsIn(place)).sort()).toEqual(live.sort());
  }, 120_000);
});
