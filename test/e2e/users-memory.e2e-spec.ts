import { afterAll } from '@jest/globals';
import { conformanceOf, testDriver } from '../support/drivers.js';
import { usersConformance } from '../support/users-conformance.js';

const memory = testDriver('memory');
afterAll(() => memory.cleanup());

usersConformance('memory driver', conformanceOf(memory));
