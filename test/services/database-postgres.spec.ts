import { sessionConformance } from '../support/conformance.js';
import { databaseCases } from '../support/database-cases.js';
import { serverDatabase } from '../support/services.js';
import { SECRET } from '../support/session-app.js';

const db = serverDatabase('postgres');

sessionConformance('database driver on PostgreSQL', {
  options: { driver: 'database', secret: SECRET, database: db.fresh() },
  serverSide: true,
});

databaseCases(db);
