import { afterAll, describe, expect, it } from '@jest/globals';
import { contractStore, testDriver } from '../../support/drivers.js';
import {
  EXPRESS_SESSION_GAPS,
  IN_PROCESS_STORES,
  expressSessionHarness,
} from '../../support/express-session-stores.js';
import { overlappingChangeSets, storeContract } from '../../support/store-contract.js';
import { WholeRecordStore } from '../../support/stores.js';
import { userIndexContract } from '../../support/user-index-contract.js';

// The stores that need no server; PostgreSQL, MariaDB and Redis run it in test/services/.
for (const name of ['memory', 'file', 'sqlite', 'custom'] as const) {
  const driver = testDriver(name);
  afterAll(() => driver.cleanup());
  storeContract(driver.label, contractStore(driver), driver.contractGaps);
  // The stores with the user index power run its contract too.
  if (name === 'memory' || name === 'file' || name === 'sqlite')
    userIndexContract(driver.label, contractStore(driver));
}

// Any express-session store through fromExpressSessionStore(), those that need no server (the
// others run it in test/services/): whole records, serialized per id in one process.
for (const entry of IN_PROCESS_STORES) {
  storeContract(
    `the express-session adapter over ${entry.name}`,
    async () => expressSessionHarness(await entry.make()),
    EXPRESS_SESSION_GAPS,
  );
}

describe('the store contract', () => {
  it('fails a store that writes whole records: overlapping change sets lose keys', async () => {
    const { kept, expected, applied } = await overlappingChangeSets(new WholeRecordStore(), Date.now);
    expect(applied.every(Boolean)).toBe(true);
    expect(kept).toBeLessThan(expected);
  });
});
