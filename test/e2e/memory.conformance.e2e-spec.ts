import { sessionConformance } from '../support/conformance.js';
import { SECRET } from '../support/session-app.js';

sessionConformance('memory driver', { options: { driver: 'memory', secret: SECRET }, serverSide: true });
