import { afterAll } from '@jest/globals';
import { databaseUserCases } from '../support/database-users-cases.js';
import { conformanceOf, testDriver } from '../support/drivers.js';
import { usersConformance } from '../support/users-conformance.js';

for (const [name, label] of [
  ['postgres', 'PostgreSQL'],
  ['mariadb', 'MariaDB'],
] as const) {
  const driver = testDriver(name);
  afterAll(() => driver.cleanup());
  usersConformance(`database driver on ${label}`, conformanceOf(driver));
  databaseUserCases(driver.database);
}
