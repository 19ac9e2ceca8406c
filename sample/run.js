#!/usr/bin/env node
// `npm run sample`: compiles the library (dist/, as `npm run build`) and the sample (dist-sample/)
// with tsc, which emits the decorator metadata Nest needs, then starts the sample. The sample
// imports 'nest-session', which Node resolves to dist/ through package.json "exports".
// `npm run sample -- --screenshots` saves docs/login.png and docs/dashboard.png instead.
import { spawnSync } from 'node:child_process';
import console from 'node:console';
import { createRequire } from 'node:module';
import process from 'node:process';
import { fileURLToPath, URL } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');

for (const project of ['tsconfig.build.json', 'sample/tsconfig.json']) {
  const result = spawnSync(process.execPath, [tsc, '-p', project], { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) {
    console.error(`nest-session sample: tsc -p ${project} failed`);
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
