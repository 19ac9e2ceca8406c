import { describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { sodium as installedSodium } from '../../../lib/crypto/sodium.js';
import { hchacha20, xchachaDecrypt, xchachaEncrypt } from '../../../lib/crypto/xchacha20.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const counting = (first: number, length: number) => Buffer.from(Array.from({ length }, (_, i) => first + i));

// sodium-native is a devDependency: the cross-checks below run on every `npm test`.
const sodium = installedSodium();

/** libsodium's crypto_aead_xchacha20poly1305_ietf_encrypt, as the cookie driver calls it. */
function sodiumEncrypt(key: Buffer, nonce: Buffer, message: Buffer, ad: Buffer): Buffer {
  const out = Buffer.alloc(message.length + 16);
  sodium!.crypto_aead_xchacha20poly1305_ietf_encrypt(out, message, ad, null, nonce, key);
  return out;
}

function sodiumDecrypt(key: Buffer, nonce: Buffer, sealed: Buffer, ad: Buffer): Buffer | undefined {
  const out = Buffer.alloc(sealed.length - 16);
  try {
    sodium!.crypto_aead_xchacha20poly1305_ietf_decrypt(out, null, sealed, ad, nonce, key);
    return out;
  } catch {
    return undefined;
  }
}

describe('HChaCha20', () => {
  it('gives the subkey of draft-irtf-cfrg-xchacha section 2.2.1', () => {
    const key = counting(0x00, 32);
    const nonce = hex('000000090000004a0000000031415927');
    expect(hchacha20(key, nonce).toString('hex')).toBe(
      '82413b4227b27bfed30e42508a877d73a0f9e4d58a74a853c12ec41326d3ecdc',
    );
  });

  it('reads its key and nonce where they sit in a larger buffer', () => {
    const pool = Buffer.concat([
      Buffer.from('xyz'),
      counting(0x00, 32),
      hex('000000090000004a0000000031415927'),
    ]);
    expect(hchacha20(pool.subarray(3, 35), pool.subarray(35, 51)).toString('hex')).toMatch(/^82413b42/);
  });

  it('refuses a key or nonce of the wrong length', () => {
    expect(() => hchacha20(Buffer.alloc(31), Buffer.alloc(16))).toThrow(RangeError);
    expect(() => hchacha20(Buffer.alloc(32), Buffer.alloc(24))).toThrow(RangeError);
  });
});

describe('XChaCha20-Poly1305 on node:crypto', () => {
  // draft-irtf-cfrg-xchacha appendix A.3.1
  const key = counting(0x80, 32);
  const nonce = counting(0x40, 24);
  const ad = hex('50515253c0c1c2c3c4c5c6c7');
  const message = Buffer.from(
    "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.",
  );
  const expected = hex(`
    bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb
    731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b452
    2f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff9
    21f9664c97637da9768812f615c68b13b52e
    c0875924c1c7987947deafd8780acf49`);

  it('seals and opens the AEAD vector of draft-irtf-cfrg-xchacha appendix A.3.1', () => {
    expect(xchachaEncrypt(key, nonce, message, ad).toString('hex')).toBe(expected.toString('hex'));
    expect(xchachaDecrypt(key, nonce, expected, ad)).toEqual(message);
  });

  it('agrees with libsodium on that vector', () => {
    expect(sodium).toBeDefined();
    expect(sodiumEncrypt(key, nonce, message, ad)).toEqual(expected);
  });

  it.each([0, 1, 15, 16, 17, 63, 64, 65, 1000, 3000])(
    'opens what libsodium seals, and libsodium opens what it seals (%i bytes)',
    (length) => {
      const k = randomBytes(32);
      const n = randomBytes(24);
      const a = Buffer.from('nest_session');
      const m = randomBytes(length);
      const bySodium = sodiumEncrypt(k, n, m, a);
      expect(xchachaDecrypt(k, n, bySodium, a)).toEqual(m);
      const byNode = xchachaEncrypt(k, n, m, a);
      expect(byNode).toEqual(bySodium);
      expect(sodiumDecrypt(k, n, byNode, a)).toEqual(m);
    },
  );

  it.each([
    ['a bit of the ciphertext', (s: Buffer) => (s[0] ^= 1)],
    ['a bit of the tag', (s: Buffer) => (s[s.length - 1] ^= 0x80)],
  ])('refuses a seal with %s changed', (_what, alter) => {
    const sealed = Buffer.from(expected);
    alter(sealed);
    expect(xchachaDecrypt(key, nonce, sealed, ad)).toBeUndefined();
    expect(sodiumDecrypt(key, nonce, sealed, ad)).toBeUndefined();
  });

  it('refuses another nonce, key or associated data, and a seal shorter than a tag', () => {
    const otherNonce = Buffer.from(nonce);
    otherNonce[23] ^= 1;
    expect(xchachaDecrypt(key, otherNonce, expected, ad)).toBeUndefined();
    // The first 16 nonce bytes make the subkey: a change there must be refused too.
    otherNonce[23] ^= 1;
    otherNonce[0] ^= 1;
    expect(xchachaDecrypt(key, otherNonce, expected, ad)).toBeUndefined();
    expect(xchachaDecrypt(counting(0x81, 32), nonce, expected, ad)).toBeUndefined();
    expect(xchachaDecrypt(key, nonce, expected, Buffer.from('other_cookie'))).toBeUndefined();
    expect(xchachaDecrypt(key, nonce, expected.subarray(0, 15), ad)).toBeUndefined();
  });
});
