/**
 * What the file store's failures say. A call on the session directory fails with an errno code; the
 * message a 503 is logged with adds what that code means for the directory and what to do about it.
 * Node's messages name the file (`open '<dir>/<id>.json'`): its session id is replaced by a tag.
 */
import { sessionTag } from '../core/session-tag.js';
import { SessionError } from '../session.errors.js';

/** Per errno code, what it means for the session directory. */
const MEANINGS: Record<string, string> = {
  ENOENT: 'the session directory is gone; it is made again on the next write',
  ENOTDIR: 'the session directory, or a path above it, is not a directory',
  ENOSPC: "no space or no inodes are left on the session directory's device",
  EDQUOT: "the app's user is over its disk quota",
  EACCES: "the app's user may not write in the session directory",
  EPERM: "the app's user may not write in the session directory",
  EROFS: 'the session directory is on a read-only file system',
  EMFILE: 'the process has too many open files',
  ENFILE: 'the system has too many open files',
  ELOCKED: "another process held this session's lock for 25 s",
};

/** What a file store call failed with means, or undefined for an error that is no I/O failure. */
export function meaningOf(error: unknown): string | undefined {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' ? MEANINGS[code] : undefined;
}

/**
 * A session file's name (`<id>.json`, `<id>.json.<hex>.tmp`, `<id>.lock`): the id, up to the suffix;
 * or a user's index file or lock (`<key>.user`, `<key>.user.lock`): the key, a hash of the user id.
 */
const SESSION_FILE_NAME = /[A-Za-z0-9_-]{20,128}(?=\.(?:json|lock|user)\b)/g;

/** `text` with the session id (or user key) of every file it names replaced by its tag. */
export function withoutFileIds(text: string): string {
  return text.replace(SESSION_FILE_NAME, (id) => sessionTag(id));
}

/**
 * A failed call on the session directory, its message saying what its errno code means, with no
 * session id in it, and nothing else of the error (its `path` holds the id).
 */
export class FileStoreError extends Error {
  readonly code: string | undefined;
  readonly syscall: string | undefined;

  constructor(cause: NodeJS.ErrnoException) {
    const meaning = meaningOf(cause);
    super(withoutFileIds(meaning === undefined ? cause.message : `${cause.message} (${meaning})`));
    this.name = 'FileStoreError';
    this.code = cause.code;
    this.syscall = cause.syscall;
  }
}

/**
 * An I/O failure (an error with an errno code) as a FileStoreError; anything else (a refusal, a
 * too-large session) as it is. Not `instanceof Error`: errors from another realm (a VM context, as
 * under Jest) are errors too.
 */
export function describeFailure(error: unknown): unknown {
  if (error instanceof FileStoreError || error instanceof SessionError) return error;
  const failed = error as Partial<NodeJS.ErrnoException> | null | undefined;
  return typeof failed?.code === 'string' && typeof failed.message === 'string'
    ? new FileStoreError(failed as NodeJS.ErrnoException)
    : error;
}
