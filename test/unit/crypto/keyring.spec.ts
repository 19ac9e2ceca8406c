import { describe, expect, it } from '@jest/globals';
import { Keyring, newSessionId } from '../../../lib/crypto/keyring.js';

const CURRENT = 'the-current-secret-that-is-long-enough-01234';
const OLDER = 'an-older-secret-that-is-long-enough-56789abc';
const OTHER = 'an-unrelated-secret-that-is-long-enough-defg';
const NAME = 'nest_session';

/** Flips one bit of the decoded bytes at `index` and encodes them again. */
function flipByte(sealed: string, index: number): string {
  const raw = Buffer.from(sealed, 'base64url');
  raw[index] ^= 0x01;
  return raw.toString('base64url');
}

describe('Keyring', () => {
  describe.each([
    ['aes-256-gcm', 12],
    ['xchacha20-poly1305', 24],
  ] as const)('seal / open (%s)', (algorithm, nonceBytes) => {
    const keyring = (secrets: string[]) => new Keyring(secrets, algorithm);

    it('opens what it sealed, unicode included, and says it is not stale', () => {
      const ring = keyring([CURRENT]);
      const plaintext = JSON.stringify({ user: 'zoë', note: '日本語 ✓', n: 0 });
      expect(ring.open(NAME, ring.seal(NAME, plaintext))).toEqual({ plaintext, stale: false });
    });

    it('hides the plaintext and uses a fresh nonce every time', () => {
      const ring = keyring([CURRENT]);
      const a = ring.seal(NAME, 'userId=42;role=admin');
      const b = ring.seal(NAME, 'userId=42;role=admin');
      expect(a).not.toBe(b);
      expect(a).toMatch(/^[A-Za-z0-9_-]+$/);
      for (const sealed of [a, b]) {
        const raw = Buffer.from(sealed, 'base64url');
        expect(raw.toString('latin1')).not.toContain('userId');
        expect(raw.toString('latin1')).not.toContain('admin');
      }
      // version byte, nonce, ciphertext as long as the plaintext, 16-byte tag
      expect(Buffer.from(a, 'base64url')[0]).toBe(algorithm === 'aes-256-gcm' ? 1 : 2);
      expect(Buffer.from(a, 'base64url')).toHaveLength(1 + nonceBytes + 'userId=42;role=admin'.length + 16);
      expect(Buffer.from(a, 'base64url').subarray(1, 1 + nonceBytes)).not.toEqual(
        Buffer.from(b, 'base64url').subarray(1, 1 + nonceBytes),
      );
    });

    it('binds the seal to the cookie name', () => {
      const ring = keyring([CURRENT]);
      const sealed = ring.seal(NAME, 'secret');
      expect(ring.open('other_cookie', sealed)).toBeUndefined();
      expect(ring.open(NAME, sealed)?.plaintext).toBe('secret');
    });

    it.each([
      ['the version byte', () => 0],
      ['the nonce', () => 5],
      ['the ciphertext', () => 1 + nonceBytes + 1],
      ['the tag', () => -1],
    ])('rejects a seal with one bit of %s changed', (_part, at) => {
      const ring = keyring([CURRENT]);
      const sealed = ring.seal(NAME, 'some session data');
      const index = at() < 0 ? Buffer.from(sealed, 'base64url').length + at() : at();
      expect(ring.open(NAME, flipByte(sealed, index))).toBeUndefined();
      expect(ring.open(NAME, sealed)?.plaintext).toBe('some session data');
    });

    it.each([
      ['truncated', (s: string) => s.slice(0, -4)],
      ['shorter than a header and a tag', (s: string) => s.slice(0, 30)],
      ['empty', () => ''],
      ['garbage', () => 'not base64url at all! %%%'],
      ['extended', (s: string) => s + 'AAAA'],
    ])('rejects a %s seal', (_kind, alter) => {
      const ring = keyring([CURRENT]);
      const sealed = ring.seal(NAME, 'some session data');
      expect(ring.open(NAME, alter(sealed))).toBeUndefined();
    });

    it('rejects a seal made with a secret it does not hold', () => {
      const sealed = keyring([OTHER]).seal(NAME, 'data');
      expect(keyring([CURRENT]).open(NAME, sealed)).toBeUndefined();
      expect(keyring([CURRENT, OLDER]).open(NAME, sealed)).toBeUndefined();
    });

    it('never repeats a nonce, through many refills of the random pool', () => {
      const ring = keyring([CURRENT]);
      const seen = new Set<string>();
      for (let i = 0; i < 3000; i++) {
        seen.add(newSessionId());
        seen.add(
          Buffer.from(ring.seal(NAME, 'x'), 'base64url')
            .subarray(1, 1 + nonceBytes)
            .toString('hex'),
        );
      }
      expect(seen.size).toBe(6000);
    });
  });

  describe('rotation', () => {
    it('opens a seal made with an older secret and says it is stale', () => {
      const sealed = new Keyring([OLDER]).seal(NAME, 'data');
      expect(new Keyring([CURRENT, OLDER]).open(NAME, sealed)).toEqual({ plaintext: 'data', stale: true });
    });

    it('seals with the first secret only', () => {
      const sealed = new Keyring([CURRENT, OLDER]).seal(NAME, 'data');
      expect(new Keyring([CURRENT]).open(NAME, sealed)).toEqual({ plaintext: 'data', stale: false });
      expect(new Keyring([OLDER]).open(NAME, sealed)).toBeUndefined();
    });

    it('no longer opens an older seal once that secret is dropped', () => {
      const sealed = new Keyring([OLDER]).seal(NAME, 'data');
      expect(new Keyring([CURRENT]).open(NAME, sealed)).toBeUndefined();
    });

    it('signs with the first secret and still verifies the older ones', () => {
      const byOlder = new Keyring([OLDER]).sign(NAME, 'id-1');
      const ring = new Keyring([CURRENT, OLDER]);
      expect(ring.unsign(NAME, byOlder)).toBe('id-1');
      const byRing = ring.sign(NAME, 'id-1');
      expect(new Keyring([CURRENT]).unsign(NAME, byRing)).toBe('id-1');
      expect(new Keyring([OLDER]).unsign(NAME, byRing)).toBeUndefined();
      expect(new Keyring([CURRENT]).unsign(NAME, byOlder)).toBeUndefined();
    });
  });

  describe('handles and user record ids', () => {
    it('gives a handle under each secret, the current one first, and a record id per secret, shaped as a session id', () => {
      const ring = new Keyring([CURRENT, OLDER]);
      const id = newSessionId();
      const handles = ring.handles(id);
      expect(handles).toHaveLength(2);
      expect(handles[0]).toBe(ring.handle(id));
      expect(handles[1]).toBe(new Keyring([OLDER]).handle(id));
      expect(handles[0]).not.toBe(handles[1]);
      const records = ring.userRecordIds('alice');
      expect(records).toEqual([
        new Keyring([CURRENT]).userRecordIds('alice')[0],
        new Keyring([OLDER]).userRecordIds('alice')[0],
      ]);
      for (const record of records) expect(record).toMatch(/^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/);
      expect(records[0]).not.toBe(ring.userRecordIds('bob')[0]);
      // Neither names the other: a handle is not a record id's prefix.
      expect(records[0].startsWith(ring.handle('alice'))).toBe(false);
    });
  });

  describe('sign / unsign', () => {
    it('returns the signed value, dots in it included', () => {
      const ring = new Keyring([CURRENT]);
      const id = newSessionId();
      expect(ring.unsign(NAME, ring.sign(NAME, id))).toBe(id);
      expect(ring.unsign(NAME, ring.sign(NAME, 'a.b.c'))).toBe('a.b.c');
    });

    it('is deterministic and carries a 43-character signature after the value', () => {
      const ring = new Keyring([CURRENT]);
      const signed = ring.sign(NAME, 'value');
      expect(ring.sign(NAME, 'value')).toBe(signed);
      expect(signed).toMatch(/^value\.[A-Za-z0-9_-]{43}$/);
    });

    it('binds the signature to the cookie name', () => {
      const ring = new Keyring([CURRENT]);
      expect(ring.unsign('other_cookie', ring.sign(NAME, 'value'))).toBeUndefined();
    });

    it.each([
      ['a changed value', (s: string) => 'valuf' + s.slice(5)],
      ['a changed signature', (s: string) => s.slice(0, -1) + (s.endsWith('A') ? 'B' : 'A')],
      ['a truncated signature', (s: string) => s.slice(0, -1)],
      ['no signature', () => 'value'],
      ['an empty value', (s: string) => s.slice(5)],
      ['a signature of the wrong length', (s: string) => s + 'AAAA'],
    ])('rejects %s', (_kind, alter) => {
      const ring = new Keyring([CURRENT]);
      const signed = ring.sign(NAME, 'value');
      expect(ring.unsign(NAME, alter(signed))).toBeUndefined();
      expect(ring.unsign(NAME, signed)).toBe('value');
    });

    it('rejects a signature made with a secret it does not hold', () => {
      expect(
        new Keyring([CURRENT, OLDER]).unsign(NAME, new Keyring([OTHER]).sign(NAME, 'v')),
      ).toBeUndefined();
    });

    it('remembers what it verified without loosening the check: not for another name, not altered', () => {
      const ring = new Keyring([CURRENT]);
      const signed = ring.sign(NAME, 'value');
      expect(ring.unsign(NAME, signed)).toBe('value');
      expect(ring.unsign(NAME, signed)).toBe('value');
      expect(ring.unsign('other_cookie', signed)).toBeUndefined();
      expect(ring.unsign(NAME, signed.slice(0, -1) + (signed.endsWith('A') ? 'B' : 'A'))).toBeUndefined();
      // A remembered signature with another value in front of it: another value, or one that starts
      // with the remembered one, or a prefix of it.
      const signature = signed.slice(signed.lastIndexOf('.') + 1);
      for (const value of ['valuf', 'value2', 'valu', 'x.value'])
        expect(ring.unsign(NAME, `${value}.${signature}`)).toBeUndefined();
      expect(ring.unsign(NAME, `.${signature}`)).toBeUndefined();
      expect(ring.unsign(NAME, signed)).toBe('value');
      // Far more cookies than it remembers: each still verified, the first one included.
      const many = Array.from({ length: 2500 }, (_, i) => ring.sign(NAME, `id-${i}`));
      for (const [i, cookie] of many.entries()) expect(ring.unsign(NAME, cookie)).toBe(`id-${i}`);
      expect(ring.unsign(NAME, many[0])).toBe('id-0');
      expect(new Keyring([OTHER]).unsign(NAME, signed)).toBeUndefined();
    });
  });

  it('makes 256-bit random session ids', () => {
    const ids = new Set(Array.from({ length: 100 }, () => newSessionId()));
    expect(ids.size).toBe(100);
    for (const id of ids) expect(Buffer.from(id, 'base64url')).toHaveLength(32);
  });
});
