import { sessionConformance } from '../support/conformance.js';
import { SECRET } from '../support/session-app.js';

sessionConformance('cookie driver', { options: { driver: 'cookie', secret: SECRET }, serverSide: false });
