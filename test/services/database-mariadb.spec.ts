import { afterAll } from '@jest/globals';
import { sessionConformance } from '../support/conformance.js';
import { databaseCases } from '../support/database-cases.js';
import { conformanceOf, testDriver } from '../support/drivers.js';

const mariadb = testDriver('mariadb');
afterAll(() => mariadb.cleanup());

sessionConformance('database driver on MariaDB', conformanceOf(mariadb));

databaseCases(mariadb.database);
