#!/usr/bin/env node
// `npm run sample`: builds the library (dist/, as `npm run build`) and the sample (dist-sample/)
// with the Nest CLI (the projects in nest-cli.json; tsc underneath, which emits the decorator
// metadata Nest needs), then starts the sample. The sample imports 'nest-session', which Node
// resolves to dist/ through package.json "exports". `npx nest start sample` does the same once
// dist/ is built. `npm run sample -- --screenshots` saves docs/login.png and docs/dashboard.png instead.
import { spawnSync } from 'node:child_process';
import console from 'node:console';
import { createRequire } from 'node:module';
import process from 'node:process';
import { fileURLToPath, URL } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const nest = createRequire(import.meta.url).resolve('@nestjs/cli/bin/nest.js');

for (const project of ['nest-session', 'sample']) {
  const result = spawnSync(process.execPath, [nest, 'build', project], { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) {
    console.error(`nest-session sample: nest build ${project} failed`);
    process.exit(result.status ?? 1);
  }
}

if (process.argv.includes('--screenshots')) {
  const { takeScreenshots } = await import('../dist-sample/screenshots.js');
  await takeScreenshots();
} else {
  const { startSample } = await import('../dist-sample/main.js');
  const { url, driver } = await startSample();
  console.log(`nest-session sample listening on ${url} (driver: ${driver})`);
}
