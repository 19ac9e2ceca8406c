import { afterAll, it } from '@jest/globals';
import { contractStore, testDriver } from '../support/drivers.js';
import { SERVER_STORES } from '../support/express-session-servers.js';
import {
  EXPRESS_SESSION_GAPS,
  awaitingInstall,
  expressSessionHarness,
} from '../support/express-session-stores.js';
import { storeContract } from '../support/store-contract.js';
import { userIndexContract } from '../support/user-index-contract.js';

// The store contract on the stores that need a server (the others run it in test/unit/stores/).
for (const name of ['postgres', 'mariadb', 'redis', 'redis-cluster', 'redis-sentinel'] as const) {
  const driver = testDriver(name);
  afterAll(() => driver.cleanup());
  storeContract(driver.label, contractStore(driver), driver.contractGaps);
  // The stores with the user index power run its contract too.
  if (name === 'postgres' || name === 'mariadb') userIndexContract(driver.label, contractStore(driver));
}

// Any express-session store through fromExpressSessionStore(), on a server: whole records, so the
// properties that need atomic writes across processes are its known gaps.
for (const kind of SERVER_STORES) {
  if (awaitingInstall(kind.pkg)) {
    it.todo(`the express-session adapter over ${kind.name}: runs once ${kind.pkg} is a devDependency`);
    continue;
  }
  storeContract(
    `the express-session adapter over ${kind.name}`,
    async () => expressSessionHarness(await kind.open()),
    EXPRESS_SESSION_GAPS,
  );
}
