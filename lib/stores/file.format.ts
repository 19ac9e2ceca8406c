/**
 * What the file driver keeps on disk: the names it reads and writes, what a session file holds, and
 * the write that a reader can never see half of (a temp file renamed over the session's file). A
 * user's index file (`<key>.user`, file.users.ts) is read and written the same way.
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { isBag } from '../core/json-value.js';
import type { SessionRecord } from './session-store.js';

/** The only ids that become file names: base64url, as the driver makes them (256 random bits). */
export const SESSION_ID = /^[A-Za-z0-9_-]{20,128}$/;
/** `<id>.json`, the only files prune() reads. */
export const SESSION_FILE = /^([A-Za-z0-9_-]{20,128})\.json$/;
/** What a write leaves behind when its process dies between writing and renaming. */
export const TEMP_FILE = /^[A-Za-z0-9_-]{20,128}\.(?:json|user)\.[0-9a-f]+\.tmp$/;
/** A lock directory: `<id>.lock` for a session, `<key>.user.lock` for a user's index. */
export const LOCK_DIR = /^[A-Za-z0-9_-]{20,128}(?:\.user)?\.lock$/;

/** What a session file holds: a record and when it may be dropped, or a retired id's tombstone. */
export type Stored = (SessionRecord & { expiresAt: number }) | { retired: true; expiresAt: number };

export function checkId(id: string): void {
  if (!SESSION_ID.test(id)) {
    throw new TypeError('a session id must be base64url of 20 to 128 characters: refusing it as a file name');
  }
}

/** Opening a session file never follows a symbolic link: only the store puts files there. */
const NO_FOLLOW = constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0);

/**
 * The content of a session file, expired or not: undefined when it is missing or not a session file
 * (a symbolic link is none).
 */
export async function readStored(file: string): Promise<Stored | undefined> {
  const json = await readText(file);
  return json === undefined ? undefined : parse(json);
}

/** A file's text; undefined when it is missing or a symbolic link (never followed). */
export async function readText(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, { encoding: 'utf8', flag: NO_FOLLOW });
  } catch (error) {
    if (isMissing(error) || (error as NodeJS.ErrnoException).code === 'ELOOP') return undefined;
    throw error;
  }
}

export function writeStored(file: string, stored: Stored): Promise<void> {
  return writeJson(file, stored);
}

/**
 * Writes the whole file under a new temp name (0600, never an existing file or link), then renames it
 * over the file (which replaces a link rather than following it).
 */
export async function writeJson(file: string, value: unknown): Promise<void> {
  const temp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await writeFile(temp, JSON.stringify(value), { mode: 0o600, flag: 'wx' });
    await rename(temp, file);
  } catch (error) {
    await removeFile(temp);
    throw error;
  }
}

/** The record a session file holds, its user and policy included. */
export function recordOf(stored: SessionRecord): SessionRecord {
  const record: SessionRecord = {
    data: stored.data,
    flash: stored.flash,
    createdAt: stored.createdAt,
    lastActivity: stored.lastActivity,
  };
  if (stored.user !== undefined) record.user = stored.user;
  if (stored.policy !== undefined) record.policy = stored.policy;
  return record;
}

function parse(json: string): Stored | undefined {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return undefined;
  }
  if (!isBag(value) || typeof value.expiresAt !== 'number') return undefined;
  if (value.retired === true) return { retired: true, expiresAt: value.expiresAt };
  if (!isBag(value.data) || !isBag(value.flash)) return undefined;
  if (typeof value.createdAt !== 'number' || typeof value.lastActivity !== 'number') return undefined;
  const { user, policy } = value;
  if (
    user !== undefined &&
    !(isBag(user) && typeof user.id === 'string' && typeof user.signedInAt === 'number')
  )
    return undefined;
  if (policy !== undefined && typeof policy !== 'string') return undefined;
  return value as Stored;
}

/** Deletes a file; resolves whether it was there. */
export async function removeFile(path: string): Promise<boolean> {
  try {
    await unlink(path);
    return true;
  } catch (error) {
    if (isMissing(error)) return false;
    throw error;
  }
}

export function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
}
