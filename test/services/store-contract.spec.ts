import { afterAll } from '@jest/globals';
import { contractStore, testDriver } from '../support/drivers.js';
import { storeContract } from '../support/store-contract.js';
import { userIndexContract } from '../support/user-index-contract.js';

// The store contract on the stores that need a server (the others run it in test/unit/stores/).
for (const name of ['postgres', 'mariadb', 'redis', 'redis-cluster', 'redis-sentinel'] as const) {
  const driver = testDriver(name);
  afterAll(() => driver.cleanup());
  storeContract(driver.label, contractStore(driver), driver.contractGaps);
  // Every store here has the user index power: each runs its contract too.
  userIndexContract(driver.label, contractStore(driver));
}
