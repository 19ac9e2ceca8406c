import { afterAll } from '@jest/globals';
import { conformanceOf, testDriver } from '../support/drivers.js';
import { usersConformance } from '../support/users-conformance.js';

const file = testDriver('file');
afterAll(() => file.cleanup());

usersConformance('file driver', conformanceOf(file));
