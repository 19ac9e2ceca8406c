import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { launchChromium } from './browser.js';
import { startSample } from './main.js';
import { DEMO_USER } from './users.service.js';

const docsDir = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'docs');

/**
 * `npm run sample -- --screenshots`: starts the sample on a free port and saves the sign-in form
 * (after a wrong password) and the dashboard (after signing in) as docs/*.png.
 */
export async function takeScreenshots(outDir = docsDir): Promise<void> {
  mkdirSync(outDir, { recursive: true });
  const sample = await startSample(0);
  const browser = await launchChromium();
  try {
    const page = await browser.newPage({ viewport: { width: 1200, height: 720 } });
    const submit = (p: Page) =>
      Promise.all([p.waitForEvent('load'), p.click('form.form button[type=submit]')]);

    await page.goto(`${sample.url}/login`);
    await page.fill('#username', DEMO_USER.username);
    await page.fill('#password', 'not-the-password');
    await submit(page);
    await page.locator('.alert-danger').waitFor();
    await save(page, join(outDir, 'login.png'));

    await page.fill('#password', DEMO_USER.password);
    await submit(page);
    await page.locator('.alert-success').waitFor();
    await save(page, join(outDir, 'dashboard.png'));
  } finally {
    await browser.close();
    await sample.app.close();
  }
}

async function save(page: Page, path: string): Promise<void> {
  await page.screenshot({ path });
  console.log(`saved ${path}`);
}
