import { afterAll } from '@jest/globals';
import { testDriver } from '../support/drivers.js';
import { testingKitSuite } from '../support/testing-kit.js';

// nest-session/testing on the drivers that need a server (.ci/services.sh); the others are in
// test/e2e/testing-kit.e2e-spec.ts.
for (const name of ['postgres', 'mariadb', 'redis', 'redis-cluster', 'redis-sentinel'] as const) {
  const driver = testDriver(name);
  afterAll(() => driver.cleanup());
  testingKitSuite(driver);
}
