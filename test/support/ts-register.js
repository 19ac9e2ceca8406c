// `node --import ./test/support/ts-register.js app.ts`: runs the library's TypeScript in a child
// process as Jest does (SWC, decorator metadata), with 'nest-session' resolved to lib/index.ts.
import { register } from 'node:module';

register('./ts-hooks.js', import.meta.url);
