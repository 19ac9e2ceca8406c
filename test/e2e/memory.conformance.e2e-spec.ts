import { afterAll } from '@jest/globals';
import { sessionConformance } from '../support/conformance.js';
import { conformanceOf, testDriver } from '../support/drivers.js';

const memory = testDriver('memory');
afterAll(() => memory.cleanup());

sessionConformance('memory driver', conformanceOf(memory));
