import { createHmac, hkdfSync, randomFillSync, timingSafeEqual } from 'node:crypto';
import { nonceBytes, open, seal, type SealAlgorithm, type SealKeys } from './seal.js';
import { sodium, type Sodium } from './sodium.js';
import { ownString, RecentMap } from '../core/recent-map.js';

const SIG_BYTES = 32;
/**
 * The only spelling of a 32-byte signature this library writes: 43 base64url characters, no padding,
 * the last one carrying 4 bits and two zero bits (A, E, I, ..., 8). Base64 decoders also take `+` and
 * `/`, padding, characters they skip and other values of those two bits: none of those verify.
 */
const SIGNATURE = /^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/;
/** Verified signed values remembered per cookie name. */
const VERIFIED_MAX = 1000;

interface Keys {
  sign: Buffer;
  seal: SealKeys;
  /** Names sessions in lists (handle()). */
  handle: Buffer;
  /** Names a user's revocation record (userRecordIds()). */
  record: Buffer;
}

/** Characters of a handle: 96 bits of HMAC, base64url. */
const HANDLE_LENGTH = 16;

/** The cookie name as additional authenticated data, made once per name. */
const aadCache = new Map<string, Buffer>();
function aad(name: string): Buffer {
  let buffer = aadCache.get(name);
  if (buffer === undefined) aadCache.set(name, (buffer = Buffer.from(name)));
  return buffer;
}

/**
 * Keys derived (HKDF-SHA256) from the configured secrets: the first signs and seals, the others
 * still verify and open, so secrets can be rotated without ending every session.
 */
export class Keyring {
  private readonly keys: Keys[];
  /**
   * Signed values already verified, by cookie name: a client sends the same cookie with every
   * request, and an HMAC costs several times a lookup under load. A hit means this exact string
   * passed the check with these keys before.
   */
  private readonly verified = new Map<string, RecentMap<string, string>>();
  private readonly sealKeys: SealKeys[];
  /** sodium-native, when this process has it: XChaCha20-Poly1305 in libsodium rather than node:crypto. */
  private readonly sodium: Sodium | undefined;
  /** What seal() seals with: XChaCha20-Poly1305 where sodium-native is installed, unless told otherwise. */
  readonly algorithm: SealAlgorithm;

  constructor(secrets: readonly string[], algorithm?: SealAlgorithm) {
    this.sodium = sodium();
    this.algorithm = algorithm ?? (this.sodium === undefined ? 'aes-256-gcm' : 'xchacha20-poly1305');
    this.keys = secrets.map((secret) => ({
      sign: derive(secret, 'nest-session/v1 cookie signature'),
      seal: {
        aesGcm: derive(secret, 'nest-session/v1 cookie seal'),
        xchacha: derive(secret, 'nest-session/v1 cookie seal xchacha20-poly1305'),
      },
      handle: derive(secret, 'nest-session/v1 session handle'),
      record: derive(secret, 'nest-session/v1 user record'),
    }));
    this.sealKeys = this.keys.map((key) => key.seal);
  }

  /**
   * A session's public handle: derived from its id with the current secret (HMAC-SHA256, 96 bits),
   * so it names the session in lists and revocations without being a credential: the id cannot be
   * found from it, and it opens nothing. A new secret gives every session a new handle.
   */
  handle(id: string): string {
    return this.handleWith(0, id);
  }

  /** The handle of a session id under each secret, current first (the first is handle()'s). */
  handles(id: string): string[] {
    return this.keys.map((_, i) => this.handleWith(i, id));
  }

  /**
   * The ids of a user's revocation record (the cookie driver's), one per secret, current first:
   * HMAC-SHA256 of the user id, 43 base64url characters, the shape of a session id. The store never
   * sees the user id, and a new secret names a new record (the older ones are still read).
   */
  userRecordIds(userId: string): string[] {
    return this.keys.map(({ record }) => createHmac('sha256', record).update(userId).digest('base64url'));
  }

  private handleWith(index: number, id: string): string {
    const key = this.keys[index].handle;
    return createHmac('sha256', key).update(id).digest('base64url').slice(0, HANDLE_LENGTH);
  }

  /** `value.signature`, bound to the cookie name so a value cannot move between cookies. */
  sign(name: string, value: string): string {
    return `${value}.${this.mac(this.keys[0].sign, name, value).toString('base64url')}`;
  }

  /** The signed value, or undefined for anything forged, truncated or signed with an unknown key. */
  unsign(name: string, signed: string): string | undefined {
    let verified = this.verified.get(name);
    const known = verified?.get(signed);
    if (known !== undefined) return known;
    const value = this.check(name, signed);
    if (value === undefined) return undefined;
    if (verified === undefined) this.verified.set(name, (verified = new RecentMap(VERIFIED_MAX / 2)));
    // Both as strings of their own: not slices of the request's Cookie header.
    const id = ownString(value);
    verified.set(ownString(signed), id);
    return id;
  }

  private check(name: string, signed: string): string | undefined {
    const dot = signed.lastIndexOf('.');
    if (dot <= 0) return undefined;
    const signature = signed.slice(dot + 1);
    if (!SIGNATURE.test(signature)) return undefined;
    const value = signed.slice(0, dot);
    const given = Buffer.from(signature, 'base64url');
    if (given.length !== SIG_BYTES) return undefined;
    for (const key of this.keys) {
      if (timingSafeEqual(given, this.mac(key.sign, name, value))) return value;
    }
    return undefined;
  }

  /**
   * The plaintext sealed with the current secret (lib/crypto/seal.ts has the format: a version byte
   * naming the cipher, a random nonce, the ciphertext and tag), base64url. The name is authenticated.
   */
  seal(name: string, plaintext: string): string {
    const nonce = randomSlice(nonceBytes(this.algorithm));
    return seal(this.algorithm, this.keys[0].seal, nonce, aad(name), plaintext, this.sodium);
  }

  /**
   * The plaintext and whether it was sealed with an older key, or undefined for anything that does not
   * open. Either cipher opens, whichever this keyring seals with. Only the exact string seal() wrote
   * opens: the bytes must encode back to it (which refuses every character base64url does not write,
   * padding and the decoder's leniencies).
   */
  open(name: string, sealed: string): { plaintext: string; stale: boolean } | undefined {
    const raw = Buffer.from(sealed, 'base64url');
    if (raw.toString('base64url') !== sealed) return undefined;
    const opened = open(raw, this.sealKeys, aad(name), this.sodium);
    return opened === undefined ? undefined : { plaintext: opened.plaintext, stale: opened.index > 0 };
  }

  private mac(key: Buffer, name: string, value: string): Buffer {
    return createHmac('sha256', key).update(`${name}=${value}`).digest();
  }
}

function derive(secret: string, info: string): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), info, 32));
}

/**
 * Random bytes from the CSPRNG, taken from a pool filled 4 KB at a time (as Node's randomUUID does):
 * a call into the CSPRNG per id or IV costs more than the rest of the seal. Each byte is used once;
 * the slice is only read before the next call.
 */
const POOL_BYTES = 4096;
let pool = Buffer.alloc(0);
let poolOffset = 0;
function randomSlice(size: number): Buffer {
  if (poolOffset + size > pool.length) {
    pool = randomFillSync(Buffer.allocUnsafeSlow(POOL_BYTES));
    poolOffset = 0;
  }
  const slice = pool.subarray(poolOffset, poolOffset + size);
  poolOffset += size;
  return slice;
}

/** A new session id: 256 random bits, base64url. */
export function newSessionId(): string {
  return randomSlice(32).toString('base64url');
}
