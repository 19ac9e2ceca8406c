import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import type { SessionModuleOptions } from 'nest-session';
import { sodium, useSodium } from '../../lib/crypto/sodium.js';
import { cookiePair, createApp, http, platforms } from '../support/app.js';
import { SECRET, sessionApp } from '../support/session-app.js';

const NAME = 'nest_session';
const OLD_SECRET = 'an-old-secret-that-is-long-enough-0123456789';

/** The cipher a cookie names in its first byte: 1 AES-256-GCM, 2 XChaCha20-Poly1305. */
const cipherOf = (pair: string) => Buffer.from(pair.slice(NAME.length + 1), 'base64url')[0];

describe.each(platforms)('cookie driver: processes with and without sodium-native (%s)', (platform) => {
  const apps: INestApplication[] = [];
  /** An app whose module starts as in a process with sodium-native, or without it (node:crypto only). */
  async function start(options: SessionModuleOptions, withSodium: boolean): Promise<INestApplication> {
    useSodium(withSodium);
    try {
      const app = await createApp(platform, sessionApp({ driver: 'cookie', secret: SECRET, ...options }));
      apps.push(app);
      return app;
    } finally {
      useSodium(true);
    }
  }
  let native: INestApplication;
  let plain: INestApplication;
  let plainXChaCha: INestApplication;
  beforeAll(async () => {
    expect(sodium()).toBeDefined(); // a devDependency: the normal test run has it
    native = await start({}, true);
    plain = await start({}, false);
    plainXChaCha = await start({ seal: 'xchacha20-poly1305' }, false);
  });
  afterAll(async () => {
    for (const app of apps) await app.close();
  });

  /** Sets `body` on `app` with `pair` (or none), and returns the response's cookie and state. */
  async function set(app: INestApplication, body: object, pair?: string) {
    const req = http(app).post('/set').send(body);
    const res = await (pair === undefined ? req : req.set('Cookie', pair)).expect(200);
    return cookiePair(res, NAME)!;
  }
  const state = (app: INestApplication, pair: string) =>
    http(app).get('/state').set('Cookie', pair).expect(200);

  it('seals with XChaCha20-Poly1305 where sodium-native is installed, AES-256-GCM where it is not', async () => {
    expect(cipherOf(await set(native, { a: 1 }))).toBe(2);
    expect(cipherOf(await set(plain, { a: 1 }))).toBe(1);
    expect(cipherOf(await set(plainXChaCha, { a: 1 }))).toBe(2);
  });

  it('keeps one session as a client goes back and forth between the processes', async () => {
    const first = await set(native, { a: 1 });
    const { id } = (await state(native, first)).body;
    const second = await set(plain, { b: 2 }, first);
    expect(cipherOf(second)).toBe(1);
    const third = await set(plainXChaCha, { c: 3 }, second);
    expect(cipherOf(third)).toBe(2);
    const fourth = await set(native, { d: 4 }, third);
    for (const app of [native, plain, plainXChaCha]) {
      expect((await state(app, fourth)).body).toEqual({
        id,
        isNew: false,
        data: { a: 1, b: 2, c: 3, d: 4 },
        flash: {},
      });
    }
  });

  it('opens a cookie of the other cipher without rewriting it when nothing changed (no churn in a mixed fleet)', async () => {
    const aes = await set(plain, { a: 1 });
    const res = await state(native, aes);
    expect(res.body).toMatchObject({ isNew: false, data: { a: 1 } });
    expect(cookiePair(res, NAME)).toBeUndefined();
  });

  it('moves a cookie of the older secret, of either cipher, to the current secret and cipher', async () => {
    const oldPlain = await start({ secret: OLD_SECRET }, false);
    const oldNative = await start({ secret: OLD_SECRET }, true);
    const rotated = await start({ secret: [SECRET, OLD_SECRET] }, true);
    const rotatedPlain = await start({ secret: [SECRET, OLD_SECRET] }, false);
    for (const [old, to, cipher] of [
      [oldPlain, rotated, 2],
      [oldNative, rotated, 2],
      [oldNative, rotatedPlain, 1],
    ] as const) {
      const before = await set(old, { kept: true });
      const res = await state(to, before);
      expect(res.body).toMatchObject({ isNew: false, data: { kept: true } });
      const resealed = cookiePair(res, NAME)!;
      expect(cipherOf(resealed)).toBe(cipher);
      // Only the current secret is needed from now on, in either kind of process.
      expect((await state(native, resealed)).body).toMatchObject({ isNew: false, data: { kept: true } });
      expect((await state(plain, resealed)).body).toMatchObject({ isNew: false, data: { kept: true } });
    }
  });

  it.each([
    ['the version byte', () => 0],
    ['the nonce', () => 3],
    ['the ciphertext', () => 30],
    ['the tag', () => -1],
  ])('gives a fresh session for an XChaCha20 cookie with a bit of %s changed, on both', async (_part, at) => {
    const pair = await set(native, { a: 1 });
    const raw = Buffer.from(pair.slice(NAME.length + 1), 'base64url');
    raw[at() < 0 ? raw.length + at() : at()] ^= 1;
    const forged = `${NAME}=${raw.toString('base64url')}`;
    for (const app of [native, plain]) {
      const res = await state(app, forged);
      expect(res.body).toMatchObject({ isNew: true, data: {} });
      expect(res.body.id).not.toBe((await state(native, pair)).body.id);
    }
  });

  it('refuses a seal option that is not a cipher it knows, saying what to set', async () => {
    await expect(start({ seal: 'chacha20' as never }, true)).rejects.toThrow(
      "seal must be 'xchacha20-poly1305' or 'aes-256-gcm'",
    );
  });
});
