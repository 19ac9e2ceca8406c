import { afterAll } from '@jest/globals';
import { databaseUserCases } from '../support/database-users-cases.js';
import { conformanceOf, testDriver } from '../support/drivers.js';
import { usersConformance } from '../support/users-conformance.js';

const sqlite = testDriver('sqlite');
afterAll(() => sqlite.cleanup());

usersConformance('database driver on SQLite', conformanceOf(sqlite));

databaseUserCases(sqlite.database);
