import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { SessionModule } from 'nest-session';
import { SessionTesting, toBrowserCookie } from 'nest-session/testing';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchChromium } from '../../sample/browser.js';
import { sessionOptions } from '../../sample/session.config.js';
import { DEMO_USER } from '../../sample/users.service.js';

// The sample as users run it (`node sample/run.js`: tsc builds dist/ and dist-sample/, the sample
// imports 'nest-session' through package.json "exports"), on a free port, driven by Chromium.
// SAMPLE_DRIVERS picks the session drivers (default database,cookie,memory; redis needs REDIS_URL).

const root = fileURLToPath(new URL('../..', import.meta.url));
const screenshots = join(root, 'test', 'browser', 'screenshots');
const drivers = (
  process.env.SAMPLE_DRIVERS ?? `database,cookie,memory${process.env.REDIS_URL ? ',redis' : ''}`
)
  .split(',')
  .filter(Boolean);

interface Sample {
  url: string;
  process: ChildProcess;
  output: string[];
}

/** Starts `node sample/run.js` and resolves with the URL it prints. */
function startSample(env: NodeJS.ProcessEnv, started: ChildProcess[]): Promise<Sample> {
  const { NODE_OPTIONS: _jestFlags, ...inherited } = process.env;
  const child = spawn(process.execPath, ['sample/run.js'], {
    cwd: root,
    env: { ...inherited, PORT: '0', NO_COLOR: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  started.push(child);
  const output: string[] = [];
  return new Promise((resolvePromise, reject) => {
    const onData = (chunk: Buffer) => {
      const text = chunk.toString();
      output.push(text);
      const match = /listening on (http:\/\/\S+)/.exec(text);
      if (match) resolvePromise({ url: match[1], process: child, output });
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) =>
      reject(new Error(`the sample exited (${code}) before listening:\n${output.join('')}`)),
    );
  });
}

/** Stops the sample (SIGTERM: Nest's shutdown hooks close the session store) and waits for it. */
async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((done) => child.once('exit', done));
  child.kill('SIGTERM');
  await exited;
}

/** Clicks a submit button and waits for the page the redirect leads to. */
async function submit(page: Page, selector = 'main form button[type=submit]'): Promise<void> {
  await Promise.all([page.waitForEvent('load'), page.click(selector)]);
}

function alertText(page: Page, kind: 'success' | 'warning' | 'danger'): Promise<string> {
  return page.locator(`.alert-${kind}`).innerText();
}

function theme(page: Page): Promise<string | null> {
  return page.locator('html').getAttribute('data-theme');
}

describe.each(drivers)('the sample on the %s driver', (driver) => {
  let sample: Sample | undefined;
  let browser: Browser | undefined;
  let dir: string;
  const started: ChildProcess[] = [];
  const contexts: BrowserContext[] = [];
  let env: NodeJS.ProcessEnv;
  const secret = randomBytes(32).toString('base64url');

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'nest-session-sample-'));
    browser = await launchChromium();
    env = {
      SESSION_DRIVER: driver,
      DATABASE_URL: process.env.SAMPLE_DATABASE_URL ?? join(dir, 'sessions.sqlite'),
      REDIS_URL: process.env.REDIS_URL,
      SESSION_SECRET: secret,
    };
    sample = await startSample(env, started);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await Promise.all(started.map(stop));
    rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  /** Runs the steps; on failure, saves a screenshot of every open page and the server's output. */
  async function withScreenshots(name: string, steps: () => Promise<void>): Promise<void> {
    try {
      await steps();
    } catch (error) {
      mkdirSync(screenshots, { recursive: true });
      for (const [c, context] of contexts.entries()) {
        for (const [p, page] of context.pages().entries()) {
          await page
            .screenshot({ path: join(screenshots, `${driver}-${name}-${c}-${p}.png`), fullPage: true })
            .catch(() => undefined);
        }
      }
      console.error(`sample output (${driver}):\n${sample?.output.join('') ?? ''}`);
      throw error;
    }
  }

  async function newPage(): Promise<Page> {
    const context = await browser!.newContext();
    context.setDefaultTimeout(10_000);
    contexts.push(context);
    return context.newPage();
  }

  test('sign in with a flash, preferences on every page, a second browser, sign out', async () => {
    await withScreenshots('flow', async () => {
      const url = sample!.url;
      const page = await newPage();

      // A wrong password flashes an error and the typed name back to the form.
      await page.goto(`${url}/login`);
      await page.fill('#username', 'demo');
      await page.fill('#password', 'wrong');
      await submit(page);
      expect(new URL(page.url()).pathname).toBe('/login');
      expect(await alertText(page, 'danger')).toBe('Wrong username or password.');
      expect(await page.inputValue('#username')).toBe('demo');

      // The right one: welcome on the dashboard.
      await page.fill('#password', 'demo');
      await submit(page);
      expect(new URL(page.url()).pathname).toBe('/dashboard');
      expect(await alertText(page, 'success')).toBe('Welcome back, Demo User!');
      expect(await page.locator('[data-test=account-name]').innerText()).toBe('demo');

      // The flash was shown once: reloading shows the dashboard without it.
      await page.reload();
      expect(new URL(page.url()).pathname).toBe('/dashboard');
      expect(await page.locator('.alert').count()).toBe(0);
      expect(await page.locator('h1').innerText()).toBe('Dashboard');

      // Preferences: French, dark, remembered on this browser.
      await page.goto(`${url}/preferences`);
      await page.selectOption('#language', 'fr');
      await page.check('input[name=theme][value=dark]');
      await page.locator('input[name=remember]').check({ force: true });
      await submit(page);
      expect(await alertText(page, 'success')).toBe('Préférences enregistrées.');
      expect(await page.locator('input[name=remember]').isChecked()).toBe(true);

      // Applied on every page.
      for (const path of ['/', '/dashboard', '/preferences', '/login']) {
        await page.goto(`${url}${path}`);
        expect(await theme(page)).toBe('dark');
        expect(await page.locator('html').getAttribute('lang')).toBe('fr');
      }
      await page.goto(`${url}/dashboard`);
      expect(await page.locator('[data-test=theme]').innerText()).toBe('Sombre');

      // Another browser has no session: the dashboard sends it to sign in, in the default theme.
      const stranger = await newPage();
      await stranger.goto(`${url}/dashboard`);
      expect(new URL(stranger.url()).pathname).toBe('/login');
      expect(await alertText(stranger, 'warning')).toBe('Please sign in to see your dashboard.');
      expect(await theme(stranger)).toBe('light');
      expect(await stranger.locator('[data-test=account-name]').count()).toBe(0);

      // Sign out: "signed out" on the next page; the session is gone, the remembered theme is not.
      await submit(page, 'form[action="/logout"] button');
      expect(new URL(page.url()).pathname).toBe('/login');
      expect(await alertText(page, 'success')).toBe('You have been signed out.');
      expect(await page.locator('html').getAttribute('lang')).toBe('en');
      expect(await theme(page)).toBe('dark');
      expect(await page.locator('[data-test=account-name]').count()).toBe(0);

      await page.reload();
      expect(await page.locator('.alert').count()).toBe(0);

      await page.goto(`${url}/dashboard`);
      expect(new URL(page.url()).pathname).toBe('/login');
      expect(await alertText(page, 'warning')).toBe('Please sign in to see your dashboard.');
    });
  }, 60_000);

  test('your devices: two browsers signed in, one signs the other out', async () => {
    await withScreenshots('devices', async () => {
      const url = sample!.url;
      const signIn = async (page: Page, remember: boolean) => {
        await page.goto(`${url}/login`);
        await page.fill('#username', 'demo');
        await page.fill('#password', 'demo');
        if (remember) await page.check('[data-test=remember]');
        await submit(page);
        expect(new URL(page.url()).pathname).toBe('/dashboard');
      };
      const laptop = await newPage();
      const phone = await newPage();
      await signIn(phone, false);
      await signIn(laptop, true);

      // The phone's dashboard has a live line over socket.io: its session came with the handshake.
      await phone.waitForSelector('[data-test=live][data-state=live]');
      expect(await phone.locator('[data-test=live]').innerText()).toMatch(/^Live: signed in as \S/);

      // Both are listed; the laptop's own is marked and kept signed in (the 'remember' policy).
      await laptop.goto(`${url}/devices`);
      const devices = laptop.locator('[data-test=device]');
      expect(await devices.count()).toBeGreaterThanOrEqual(2);
      const mine = laptop.locator('[data-test=device][data-current=true]');
      expect(await mine.count()).toBe(1);
      expect(await mine.innerText()).toContain('This device');
      expect(await mine.innerText()).toContain('Kept signed in');

      // "Sign out everywhere else": the phone's next page asks it to sign in.
      await submit(laptop, '[data-test=sign-out-others]');
      expect(await alertText(laptop, 'success')).toMatch(/^Signed out on \d+ other device\(s\)\.$/);
      expect(await laptop.locator('[data-test=device]').count()).toBe(1);
      // The revocation closed the phone's socket at once, before the phone made any request.
      await phone.waitForSelector('[data-test=live][data-state=closed]');
      expect(await phone.locator('[data-test=live]').innerText()).toBe(
        'Signed out: this page is no longer live.',
      );
      await phone.goto(`${url}/dashboard`);
      expect(new URL(phone.url()).pathname).toBe('/login');

      // The phone signs in again and is signed out from the laptop's list, one device at a time.
      await signIn(phone, false);
      await laptop.goto(`${url}/devices`);
      await submit(laptop, '[data-test=sign-out-device]');
      expect(await alertText(laptop, 'success')).toBe('That device has been signed out.');
      await phone.goto(`${url}/dashboard`);
      expect(new URL(phone.url()).pathname).toBe('/login');
      await laptop.goto(`${url}/dashboard`);
      expect(new URL(laptop.url()).pathname).toBe('/dashboard');
    });
  }, 60_000);

  // The testing kit starts a browser signed in: a session minted into the store the sample reads,
  // handed to Chromium. The database and redis drivers share their store with this process; the
  // memory driver keeps its sessions, and the cookie driver its revocation record, inside the
  // sample's own process, where no test can mint.
  if (driver === 'database' || driver === 'redis') {
    test('the testing kit starts a browser signed in, with no trip through the sign-in form', async () => {
      await withScreenshots('kit', async () => {
        @Module({ imports: [SessionModule.forRoot({ ...sessionOptions(env), secret })] })
        class MintingModule {}
        const app = await NestFactory.createApplicationContext(MintingModule, { logger: false });
        try {
          const { password: _password, ...user } = DEMO_USER;
          const signedInAt = new Date().toISOString();
          const cookie = await SessionTesting.for(app).mint({
            userId: user.id,
            data: { user: { ...user, signedInAt } },
          });
          const page = await newPage();
          await page.context().addCookies(toBrowserCookie(cookie, { url: sample!.url }));
          await page.goto(`${sample!.url}/dashboard`);
          expect(new URL(page.url()).pathname).toBe('/dashboard');
          await page.waitForSelector('[data-test=live][data-state=live]');
          expect(await page.locator('[data-test=live]').innerText()).toBe(`Live: signed in as ${user.name}`);
        } finally {
          await app.close();
        }
      });
    }, 60_000);
  }
});
