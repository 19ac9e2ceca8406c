import { afterAll } from '@jest/globals';
import { conformanceOf, testDriver } from '../support/drivers.js';
import { usersConformance } from '../support/users-conformance.js';

const cookie = testDriver('cookie');
afterAll(() => cookie.cleanup());

// The cookie driver made revocable: each user's revocation record in the memory driver's store.
usersConformance('cookie driver, revocation record in memory', {
  ...conformanceOf(cookie),
  options: () => ({ ...cookie.options(), users: { revocationStore: 'memory' } }),
});
