import { afterAll } from '@jest/globals';
import { contractStore, testDriver } from '../support/drivers.js';
import { storeContract } from '../support/store-contract.js';

// The store contract on the stores that need a server (the others run it in test/unit/stores/).
for (const name of ['postgres', 'mariadb', 'redis', 'redis-cluster', 'redis-sentinel'] as const) {
  const driver = testDriver(name);
  afterAll(() => driver.cleanup());
  storeContract(driver.label, contractStore(driver), driver.contractGaps);
}
