import { afterAll } from '@jest/globals';
import { testDriver } from '../support/drivers.js';
import { testingKitSuite } from '../support/testing-kit.js';

// nest-session/testing on the drivers that need no server; PostgreSQL, MariaDB and Redis are in
// test/services/testing-kit.spec.ts.
for (const name of ['memory', 'cookie', 'file', 'sqlite'] as const) {
  const driver = testDriver(name);
  afterAll(() => driver.cleanup());
  testingKitSuite(driver);
}
