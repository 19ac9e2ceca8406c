import { afterAll } from '@jest/globals';
import { sessionConformance } from '../support/conformance.js';
import { conformanceOf, testDriver } from '../support/drivers.js';

const cookie = testDriver('cookie');
afterAll(() => cookie.cleanup());

sessionConformance('cookie driver', conformanceOf(cookie));
