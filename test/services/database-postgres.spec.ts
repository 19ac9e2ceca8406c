import { afterAll } from '@jest/globals';
import { sessionConformance } from '../support/conformance.js';
import { databaseCases } from '../support/database-cases.js';
import { conformanceOf, testDriver } from '../support/drivers.js';

const postgres = testDriver('postgres');
afterAll(() => postgres.cleanup());

sessionConformance('database driver on PostgreSQL', conformanceOf(postgres));

databaseCases(postgres.database);
