import { createCipheriv, createDecipheriv } from 'node:crypto';
import type { Sodium } from './sodium.js';
import { XCHACHA_NONCE_BYTES, XCHACHA_TAG_BYTES, xchachaDecrypt, xchachaEncrypt } from './xchacha20.js';

/** The ciphers a cookie can be sealed with; every process opens both, whichever it seals with. */
export type SealAlgorithm = 'xchacha20-poly1305' | 'aes-256-gcm';
export const SEAL_ALGORITHMS: readonly SealAlgorithm[] = ['xchacha20-poly1305', 'aes-256-gcm'];

/**
 * A seal is `version | nonce | ciphertext | tag`, base64url, and its first byte says how the rest was
 * sealed, so processes that seal differently (with and without sodium-native, or during a rolling
 * upgrade) open each other's cookies:
 *
 * | byte | cipher                    | nonce           | key: HKDF-SHA256 of the secret, with the info |
 * | 1    | AES-256-GCM               | 12 random bytes | 'nest-session/v1 cookie seal'                  |
 * | 2    | XChaCha20-Poly1305 (IETF) | 24 random bytes | 'nest-session/v1 cookie seal xchacha20-poly1305' |
 *
 * Both take the cookie name as associated data and end with a 16-byte tag. Each cipher has a key of its
 * own: a key is never used by two ciphers.
 */
const AES_256_GCM = 1;
const XCHACHA20_POLY1305 = 2;
const AES_IV_BYTES = 12;
const AES_TAG_BYTES = 16;

/** A secret's two sealing keys. */
export interface SealKeys {
  aesGcm: Buffer;
  xchacha: Buffer;
}

/** The random bytes a seal with `algorithm` needs. */
export function nonceBytes(algorithm: SealAlgorithm): number {
  return algorithm === 'aes-256-gcm' ? AES_IV_BYTES : XCHACHA_NONCE_BYTES;
}

/** `plaintext` sealed with `keys` and the random `nonce` (nonceBytes(algorithm) long), base64url. */
export function seal(
  algorithm: SealAlgorithm,
  keys: SealKeys,
  nonce: Uint8Array,
  ad: Uint8Array,
  plaintext: string,
  sodium: Sodium | undefined,
): string {
  const message = Buffer.from(plaintext, 'utf8');
  if (algorithm === 'aes-256-gcm') {
    const cipher = createCipheriv('aes-256-gcm', keys.aesGcm, nonce);
    cipher.setAAD(ad);
    const body = Buffer.concat([cipher.update(message), cipher.final()]);
    return Buffer.concat([Buffer.of(AES_256_GCM), nonce, body, cipher.getAuthTag()]).toString('base64url');
  }
  const start = 1 + XCHACHA_NONCE_BYTES;
  const out = Buffer.allocUnsafe(start + message.length + XCHACHA_TAG_BYTES);
  out[0] = XCHACHA20_POLY1305;
  out.set(nonce, 1);
  if (sodium !== undefined) {
    const body = out.subarray(start);
    sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(body, message, ad, null, nonce, keys.xchacha);
  } else {
    out.set(xchachaEncrypt(keys.xchacha, nonce, message, ad), start);
  }
  return out.toString('base64url');
}

/**
 * The plaintext of a seal's bytes and the index of the keys that opened it, or undefined when no keys
 * do (a forged, altered or truncated seal, another cookie's, or one made with a secret not held).
 */
export function open(
  raw: Buffer,
  keys: readonly SealKeys[],
  ad: Uint8Array,
  sodium: Sodium | undefined,
): { plaintext: string; index: number } | undefined {
  const version = raw[0];
  if (version === AES_256_GCM) {
    if (raw.length < 1 + AES_IV_BYTES + AES_TAG_BYTES) return undefined;
    const iv = raw.subarray(1, 1 + AES_IV_BYTES);
    const body = raw.subarray(1 + AES_IV_BYTES, raw.length - AES_TAG_BYTES);
    const tag = raw.subarray(raw.length - AES_TAG_BYTES);
    for (let i = 0; i < keys.length; i++) {
      const plaintext = openAesGcm(keys[i].aesGcm, iv, body, tag, ad);
      if (plaintext !== undefined) return { plaintext, index: i };
    }
    return undefined;
  }
  if (version !== XCHACHA20_POLY1305 || raw.length < 1 + XCHACHA_NONCE_BYTES + XCHACHA_TAG_BYTES) {
    return undefined;
  }
  const nonce = raw.subarray(1, 1 + XCHACHA_NONCE_BYTES);
  const sealed = raw.subarray(1 + XCHACHA_NONCE_BYTES);
  for (let i = 0; i < keys.length; i++) {
    const message =
      sodium === undefined
        ? xchachaDecrypt(keys[i].xchacha, nonce, sealed, ad)
        : sodiumDecrypt(sodium, keys[i].xchacha, nonce, sealed, ad);
    if (message !== undefined) return { plaintext: message.toString('utf8'), index: i };
  }
  return undefined;
}

function openAesGcm(key: Buffer, iv: Buffer, body: Buffer, tag: Buffer, ad: Uint8Array): string | undefined {
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, iv);
    decipher.setAAD(ad);
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(body), decipher.final()]).toString('utf8');
  } catch {
    return undefined; // not this key
  }
}

function sodiumDecrypt(
  sodium: Sodium,
  key: Buffer,
  nonce: Buffer,
  sealed: Buffer,
  ad: Uint8Array,
): Buffer | undefined {
  const message = Buffer.allocUnsafe(sealed.length - XCHACHA_TAG_BYTES);
  try {
    sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(message, null, sealed, ad, nonce, key);
    return message;
  } catch {
    return undefined; // not this key
  }
}
