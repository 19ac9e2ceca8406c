// The sample's entry for the Nest CLI (`npx nest start sample`, after `npm run build`): starts it
// and says where, as `npm run sample` does.
import { startSample } from './main.js';

const { url, driver } = await startSample();
console.log(`nest-session sample listening on ${url} (driver: ${driver})`);
