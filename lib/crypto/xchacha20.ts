import { createCipheriv, createDecipheriv } from 'node:crypto';

/**
 * XChaCha20-Poly1305 (IETF, draft-irtf-cfrg-xchacha) on node:crypto, for processes without
 * sodium-native: node:crypto has ChaCha20-Poly1305 with a 96-bit nonce (RFC 8439) but not the
 * 192-bit-nonce variant, which is that AEAD keyed with HChaCha20(key, nonce[0..16]) and given the nonce
 * 4 zero bytes + nonce[16..24]. Byte for byte what libsodium's crypto_aead_xchacha20poly1305_ietf_*
 * write and read (test/unit/crypto/xchacha20.spec.ts checks both ways).
 */

export const XCHACHA_NONCE_BYTES = 24;
export const XCHACHA_TAG_BYTES = 16;

/** "expand 32-byte k", little-endian words. */
const SIGMA = [0x61707865, 0x3320646e, 0x79622d32, 0x6b206574];

/**
 * HChaCha20 (draft-irtf-cfrg-xchacha section 2.2): the ChaCha20 state from a 256-bit key and a
 * 128-bit nonce, 20 rounds, and words 0-3 and 12-15 of the result (no final addition) as a new key.
 */
export function hchacha20(key: Uint8Array, nonce: Uint8Array): Buffer {
  if (key.length !== 32 || nonce.length !== 16)
    throw new RangeError('HChaCha20 takes a 32-byte key and a 16-byte nonce');
  const k = Buffer.from(key.buffer, key.byteOffset, 32);
  const n = Buffer.from(nonce.buffer, nonce.byteOffset, 16);
  const s = new Uint32Array(16);
  for (let i = 0; i < 4; i++) s[i] = SIGMA[i];
  for (let i = 0; i < 8; i++) s[4 + i] = k.readUInt32LE(4 * i);
  for (let i = 0; i < 4; i++) s[12 + i] = n.readUInt32LE(4 * i);
  for (let round = 0; round < 10; round++) {
    // a column round, then a diagonal round
    quarter(s, 0, 4, 8, 12);
    quarter(s, 1, 5, 9, 13);
    quarter(s, 2, 6, 10, 14);
    quarter(s, 3, 7, 11, 15);
    quarter(s, 0, 5, 10, 15);
    quarter(s, 1, 6, 11, 12);
    quarter(s, 2, 7, 8, 13);
    quarter(s, 3, 4, 9, 14);
  }
  const out = Buffer.allocUnsafe(32);
  for (let i = 0; i < 4; i++) {
    out.writeUInt32LE(s[i], 4 * i);
    out.writeUInt32LE(s[12 + i], 16 + 4 * i);
  }
  return out;
}

/** The ChaCha quarter round on four words of the state (a Uint32Array keeps them mod 2^32). */
function quarter(s: Uint32Array, a: number, b: number, c: number, d: number): void {
  s[a] += s[b];
  s[d] = rotl(s[d] ^ s[a], 16);
  s[c] += s[d];
  s[b] = rotl(s[b] ^ s[c], 12);
  s[a] += s[b];
  s[d] = rotl(s[d] ^ s[a], 8);
  s[c] += s[d];
  s[b] = rotl(s[b] ^ s[c], 7);
}

function rotl(v: number, n: number): number {
  return (v << n) | (v >>> (32 - n));
}

/** The RFC 8439 AEAD's key and 96-bit nonce for an XChaCha20-Poly1305 key and 192-bit nonce. */
function inner(key: Uint8Array, nonce: Uint8Array): { subkey: Buffer; iv: Buffer } {
  const iv = Buffer.alloc(12);
  iv.set(nonce.subarray(16, 24), 4);
  return { subkey: hchacha20(key, nonce.subarray(0, 16)), iv };
}

/** Ciphertext then 16-byte tag, as libsodium's crypto_aead_xchacha20poly1305_ietf_encrypt writes them. */
export function xchachaEncrypt(
  key: Uint8Array,
  nonce: Uint8Array,
  message: Uint8Array,
  ad: Uint8Array,
): Buffer {
  const { subkey, iv } = inner(key, nonce);
  const cipher = createCipheriv('chacha20-poly1305', subkey, iv, { authTagLength: XCHACHA_TAG_BYTES });
  cipher.setAAD(ad, { plaintextLength: message.length });
  return Buffer.concat([cipher.update(message), cipher.final(), cipher.getAuthTag()]);
}

/** The message of `sealed` (ciphertext then tag), or undefined when the tag does not verify. */
export function xchachaDecrypt(
  key: Uint8Array,
  nonce: Uint8Array,
  sealed: Uint8Array,
  ad: Uint8Array,
): Buffer | undefined {
  if (sealed.length < XCHACHA_TAG_BYTES) return undefined;
  const { subkey, iv } = inner(key, nonce);
  const body = sealed.subarray(0, sealed.length - XCHACHA_TAG_BYTES);
  try {
    const decipher = createDecipheriv('chacha20-poly1305', subkey, iv, { authTagLength: XCHACHA_TAG_BYTES });
    decipher.setAAD(ad, { plaintextLength: body.length });
    decipher.setAuthTag(sealed.subarray(sealed.length - XCHACHA_TAG_BYTES));
    return Buffer.concat([decipher.update(body), decipher.final()]);
  } catch {
    return undefined;
  }
}
