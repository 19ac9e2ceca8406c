import { afterAll } from '@jest/globals';
import { contractStore, testDriver, type DriverName } from '../support/drivers.js';
import { storeContract } from '../support/store-contract.js';
import { userIndexContract } from '../support/user-index-contract.js';

/** The stores here with the user index power: they run its contract too. */
const USER_INDEXED: readonly DriverName[] = ['redis', 'redis-cluster', 'redis-sentinel'];

// The store contract on the stores that need a server (the others run it in test/unit/stores/).
for (const name of ['postgres', 'mariadb', 'redis', 'redis-cluster', 'redis-sentinel'] as const) {
  const driver = testDriver(name);
  afterAll(() => driver.cleanup());
  storeContract(driver.label, contractStore(driver), driver.contractGaps);
  if (USER_INDEXED.includes(name)) userIndexContract(driver.label, contractStore(driver));
}
