import { createRequire } from 'node:module';

/** What the cookie seal takes from sodium-native (libsodium): XChaCha20-Poly1305, IETF construction. */
export interface Sodium {
  /** Seals `m` into `c` (`m.length + 16` bytes: ciphertext, then tag); returns the bytes written. */
  crypto_aead_xchacha20poly1305_ietf_encrypt(
    c: Uint8Array,
    m: Uint8Array,
    ad: Uint8Array | null,
    nsec: null,
    npub: Uint8Array,
    k: Uint8Array,
  ): number;
  /** Opens `c` into `m` (`c.length - 16` bytes); throws when the tag does not verify. */
  crypto_aead_xchacha20poly1305_ietf_decrypt(
    m: Uint8Array,
    nsec: null,
    c: Uint8Array,
    ad: Uint8Array | null,
    npub: Uint8Array,
    k: Uint8Array,
  ): number;
}

/**
 * sodium-native is an optional peer: loaded once, synchronously (the package is ESM, and a top-level
 * await would stop CommonJS apps from requiring it), and a package that is missing or does not load on
 * this platform is simply not there: the cookie driver then seals with node:crypto.
 */
function load(): Sodium | undefined {
  try {
    const loaded = createRequire(import.meta.url)('sodium-native') as Partial<Sodium> | undefined;
    return typeof loaded?.crypto_aead_xchacha20poly1305_ietf_encrypt === 'function' &&
      typeof loaded.crypto_aead_xchacha20poly1305_ietf_decrypt === 'function'
      ? (loaded as Sodium)
      : undefined;
  } catch {
    return undefined;
  }
}

const installed = load();
let current = installed;

/** sodium-native when it is installed and loads, else undefined. Read by each Keyring as it is made. */
export function sodium(): Sodium | undefined {
  return current;
}

/**
 * Tests only: keyrings made after `useSodium(false)` work as in a process without sodium-native (the
 * node:crypto code runs for real); `useSodium(true)` gives them the installed package again.
 */
export function useSodium(on: boolean): void {
  current = on ? installed : undefined;
}
