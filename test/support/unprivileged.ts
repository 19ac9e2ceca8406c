import { chmodSync } from 'node:fs';

/** The uid tests use for "another user": nobody. */
export const NOBODY = 65534;

export const isRoot = () => process.geteuid?.() === 0;

/**
 * Runs `work` while the app's user may not write in `directory`, to get a real EACCES. Root ignores
 * file modes, so as root `work` runs with the effective uid of nobody (restored afterwards); any
 * other user gets the directory made read-only (0500) for the time of `work`.
 */
export async function withoutWriteAccess<T>(directory: string, work: () => Promise<T>): Promise<T> {
  if (isRoot()) {
    process.seteuid!(NOBODY);
    try {
      return await work();
    } finally {
      process.seteuid!(0);
    }
  }
  chmodSync(directory, 0o500);
  try {
    return await work();
  } finally {
    chmodSync(directory, 0o700);
  }
}
