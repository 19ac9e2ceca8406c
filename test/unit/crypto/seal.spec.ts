import { afterEach, describe, expect, it } from '@jest/globals';
import { Keyring } from '../../../lib/crypto/keyring.js';
import { sodium, useSodium } from '../../../lib/crypto/sodium.js';

const CURRENT = 'the-current-secret-that-is-long-enough-01234';
const OLDER = 'an-older-secret-that-is-long-enough-56789abc';
const NAME = 'nest_session';
const PLAINTEXT = JSON.stringify({ i: 'id', d: { user: 'zoë', note: '日本語 ✓' }, f: {}, c: 1, a: 2 });

/** Sealed by nest-session 0.1.0 (a9daca2, AES-256-GCM only) with CURRENT, for the cookie 'nest_session'. */
const AES_COOKIE_FROM_0_1_0 =
  'AScOxY2uAk5IqQKPuHJ1uubpyGYqVKzuumKttc03XCMY7GulE2Acz9nhfGyTQdXQW8YwCZloYGhFzJ2S-lCcY1BDrbnS';
const OPENED_0_1_0 = '{"i":"x","d":{"a":1},"f":{},"c":1,"a":1}';

const version = (sealed: string) => Buffer.from(sealed, 'base64url')[0];

/** A keyring made as in a process without sodium-native: node:crypto does everything. */
function withoutSodium(secrets: string[], algorithm?: 'xchacha20-poly1305' | 'aes-256-gcm'): Keyring {
  useSodium(false);
  try {
    return new Keyring(secrets, algorithm);
  } finally {
    useSodium(true);
  }
}

afterEach(() => useSodium(true));

describe('cookie seal: the cipher named in the cookie', () => {
  it('seals with XChaCha20-Poly1305 where sodium-native is installed, AES-256-GCM where it is not', () => {
    expect(sodium()).toBeDefined();
    const withIt = new Keyring([CURRENT]);
    expect(withIt.algorithm).toBe('xchacha20-poly1305');
    expect(version(withIt.seal(NAME, PLAINTEXT))).toBe(2);
    const without = withoutSodium([CURRENT]);
    expect(without.algorithm).toBe('aes-256-gcm');
    expect(version(without.seal(NAME, PLAINTEXT))).toBe(1);
  });

  it('seals with the cipher it is told to, with or without sodium-native', () => {
    expect(version(new Keyring([CURRENT], 'aes-256-gcm').seal(NAME, PLAINTEXT))).toBe(1);
    expect(version(withoutSodium([CURRENT], 'xchacha20-poly1305').seal(NAME, PLAINTEXT))).toBe(2);
  });

  // Every pair of processes of a fleet (sodium-native or not, either cipher) opens the other's cookies.
  const processes = {
    'sodium, xchacha': () => new Keyring([CURRENT]),
    'sodium, aes': () => new Keyring([CURRENT], 'aes-256-gcm'),
    'node:crypto, aes': () => withoutSodium([CURRENT]),
    'node:crypto, xchacha': () => withoutSodium([CURRENT], 'xchacha20-poly1305'),
  };
  const pairs = Object.keys(processes).flatMap((a) => Object.keys(processes).map((b) => [a, b]));
  it.each(pairs)('a cookie sealed by (%s) opens in (%s)', (sealer, opener) => {
    const sealed = processes[sealer as keyof typeof processes]().seal(NAME, PLAINTEXT);
    const ring = processes[opener as keyof typeof processes]();
    expect(ring.open(NAME, sealed)).toEqual({ plaintext: PLAINTEXT, stale: false });
    expect(ring.open('other_cookie', sealed)).toBeUndefined();
  });

  it('opens an AES-256-GCM cookie sealed before the upgrade, as the earlier release wrote it', () => {
    const before = AES_COOKIE_FROM_0_1_0;
    expect(new Keyring([CURRENT]).open(NAME, before)).toEqual({ plaintext: OPENED_0_1_0, stale: false });
    expect(withoutSodium([CURRENT]).open(NAME, before)).toEqual({ plaintext: OPENED_0_1_0, stale: false });
    expect(new Keyring([CURRENT, OLDER]).open('other_cookie', before)).toBeUndefined();
  });

  describe('rotation across ciphers', () => {
    it.each([
      ['AES-256-GCM', () => withoutSodium([OLDER])],
      ['XChaCha20-Poly1305 by sodium-native', () => new Keyring([OLDER])],
      ['XChaCha20-Poly1305 by node:crypto', () => withoutSodium([OLDER], 'xchacha20-poly1305')],
    ])(
      'opens a %s cookie of the older secret as stale, in a process with and without sodium-native',
      (_k, make) => {
        const sealed = make().seal(NAME, PLAINTEXT);
        expect(new Keyring([CURRENT, OLDER]).open(NAME, sealed)).toEqual({
          plaintext: PLAINTEXT,
          stale: true,
        });
        expect(withoutSodium([CURRENT, OLDER]).open(NAME, sealed)).toEqual({
          plaintext: PLAINTEXT,
          stale: true,
        });
        expect(new Keyring([CURRENT]).open(NAME, sealed)).toBeUndefined();
      },
    );

    it('reseals with the current secret and cipher, which the older secret alone no longer opens', () => {
      const ring = new Keyring([CURRENT, OLDER]);
      const resealed = ring.seal(NAME, PLAINTEXT);
      expect(version(resealed)).toBe(2);
      expect(new Keyring([CURRENT]).open(NAME, resealed)).toEqual({ plaintext: PLAINTEXT, stale: false });
      expect(new Keyring([OLDER]).open(NAME, resealed)).toBeUndefined();
    });
  });

  it('uses a key of its own for each cipher: a seal moved to the other version byte does not open', () => {
    for (const ring of [new Keyring([CURRENT]), new Keyring([CURRENT], 'aes-256-gcm')]) {
      const raw = Buffer.from(ring.seal(NAME, PLAINTEXT), 'base64url');
      raw[0] = raw[0] === 1 ? 2 : 1;
      expect(ring.open(NAME, raw.toString('base64url'))).toBeUndefined();
    }
  });

  it.each([0, 3, 255])('refuses a seal whose version byte is %i', (byte) => {
    const raw = Buffer.from(new Keyring([CURRENT]).seal(NAME, PLAINTEXT), 'base64url');
    raw[0] = byte;
    expect(new Keyring([CURRENT]).open(NAME, raw.toString('base64url'))).toBeUndefined();
  });
});
