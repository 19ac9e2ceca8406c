import { describe, expect, it } from '@jest/globals';
import { Keyring } from '../../../lib/crypto/keyring.js';

const SECRET = 'the-current-secret-that-is-long-enough-01234';
const NAME = 'nest_session';
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** The same character with the bits a decoder drops set differently: decodes to the same bytes. */
function otherUnusedBits(char: string): string {
  return ALPHABET[ALPHABET.indexOf(char) + 1];
}

/** The first signed value whose signature (before its last character) contains `char`. */
function signedWith(ring: Keyring, char: string): string {
  for (let i = 0; ; i++) {
    const signed = ring.sign(NAME, `id-${i}`);
    if (signed.slice(signed.lastIndexOf('.') + 1, -1).includes(char)) return signed;
  }
}

/** The first seal of `plaintext` that contains `char`. */
function sealedWith(ring: Keyring, plaintext: string, char: string): string {
  for (;;) {
    const sealed = ring.seal(NAME, plaintext);
    if (sealed.slice(0, -1).includes(char)) return sealed;
  }
}

describe('Keyring: only the exact string it wrote verifies', () => {
  describe('unsign', () => {
    const ring = new Keyring([SECRET]);
    const respellings: Array<[string, () => [string, string]]> = [
      [
        'the last character with other unused bits',
        () => {
          const signed = ring.sign(NAME, 'value');
          return [signed, signed.slice(0, -1) + otherUnusedBits(signed.slice(-1))];
        },
      ],
      [
        "'+' for '-'",
        () => {
          const signed = signedWith(ring, '-');
          const dot = signed.lastIndexOf('.');
          return [signed, signed.slice(0, dot) + signed.slice(dot).replaceAll('-', '+')];
        },
      ],
      [
        "'/' for '_'",
        () => {
          const signed = signedWith(ring, '_');
          const dot = signed.lastIndexOf('.');
          return [signed, signed.slice(0, dot) + signed.slice(dot).replaceAll('_', '/')];
        },
      ],
      [
        'padding',
        () => {
          const signed = ring.sign(NAME, 'value');
          return [signed, `${signed}=`];
        },
      ],
    ];

    it.each(respellings)(
      'rejects a signature re-spelled with %s, which decodes to the same bytes',
      (_kind, make) => {
        const [signed, respelled] = make();
        expect(respelled).not.toBe(signed);
        const dot = signed.lastIndexOf('.');
        const bytes = (s: string) => Buffer.from(s.slice(dot + 1), 'base64url');
        expect(bytes(respelled)).toEqual(bytes(signed));
        expect(ring.unsign(NAME, respelled)).toBeUndefined();
        // The canonical one verifies, and having verified it (a cached hit) does not let the other in.
        expect(ring.unsign(NAME, signed)).toBe(signed.slice(0, dot));
        expect(ring.unsign(NAME, respelled)).toBeUndefined();
        expect(ring.unsign(NAME, signed)).toBe(signed.slice(0, dot));
      },
    );

    it('still verifies every signature it makes (all 16 possible last characters show up)', () => {
      const lasts = new Set<string>();
      for (let i = 0; i < 400; i++) {
        const signed = ring.sign(NAME, `v${i}`);
        lasts.add(signed.slice(-1));
        expect(new Keyring([SECRET]).unsign(NAME, signed)).toBe(`v${i}`);
      }
      expect(lasts.size).toBe(16);
    });
  });

  // Header + 17 bytes + 16-byte tag: 46 bytes (AES-256-GCM) or 58 (XChaCha20-Poly1305), 62 or 78
  // characters, the last one carrying 4 bits the decoder drops.
  describe.each([
    ['aes-256-gcm', 12, 62],
    ['xchacha20-poly1305', 24, 78],
  ] as const)('open (%s)', (algorithm, nonceBytes, length) => {
    const ring = new Keyring([SECRET], algorithm);
    const PLAINTEXT = 'seventeen chars!!';
    const respellings: Array<[string, () => [string, string]]> = [
      ['padding', () => withSeal((s) => `${s}==`)],
      ['a space inserted', () => withSeal((s) => `${s.slice(0, 10)} ${s.slice(10)}`)],
      ['a dot inserted', () => withSeal((s) => `${s.slice(0, 10)}.${s.slice(10)}`)],
      ['a newline inserted', () => withSeal((s) => `${s.slice(0, 10)}\n${s.slice(10)}`)],
      ['an ignored character appended', () => withSeal((s) => `${s}!`)],
      [
        'the last character with other unused bits',
        () => withSeal((s) => s.slice(0, -1) + otherUnusedBits(s.slice(-1))),
      ],
      [
        "'+' for '-'",
        () => {
          const sealed = sealedWith(ring, PLAINTEXT, '-');
          return [sealed, sealed.replaceAll('-', '+')];
        },
      ],
      [
        "'/' for '_'",
        () => {
          const sealed = sealedWith(ring, PLAINTEXT, '_');
          return [sealed, sealed.replaceAll('_', '/')];
        },
      ],
    ];

    function withSeal(respell: (sealed: string) => string): [string, string] {
      const sealed = ring.seal(NAME, PLAINTEXT);
      return [sealed, respell(sealed)];
    }

    it.each(respellings)(
      'rejects a seal re-spelled with %s, which decodes to the same bytes',
      (_kind, make) => {
        const [sealed, respelled] = make();
        expect(sealed).toHaveLength(length);
        expect(respelled).not.toBe(sealed);
        expect(Buffer.from(respelled, 'base64url')).toEqual(Buffer.from(sealed, 'base64url'));
        expect(ring.open(NAME, respelled)).toBeUndefined();
        expect(ring.open(NAME, sealed)).toEqual({ plaintext: PLAINTEXT, stale: false });
      },
    );

    it('rejects a seal with a character appended that decodes to nothing', () => {
      // 1 + 12 or 24 + 19 + 16 = 48 or 60 bytes, a multiple of 3: no character with spare bits.
      const plaintext = 'nineteen characters';
      const sealed = ring.seal(NAME, plaintext);
      expect(sealed).toHaveLength(((1 + nonceBytes + 19 + 16) / 3) * 4);
      expect(Buffer.from(`${sealed}A`, 'base64url')).toEqual(Buffer.from(sealed, 'base64url'));
      expect(ring.open(NAME, `${sealed}A`)).toBeUndefined();
      expect(ring.open(NAME, sealed)?.plaintext).toBe(plaintext);
    });

    it('still opens every seal it makes, of every length', () => {
      for (let n = 0; n < 64; n++) {
        const plaintext = 'x'.repeat(n);
        expect(ring.open(NAME, ring.seal(NAME, plaintext))?.plaintext).toBe(plaintext);
      }
    });
  });
});
