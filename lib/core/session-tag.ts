/**
 * What a log line may say of a session: never its id (a credential) and never its data, but a tag
 * that tells the lines of one session apart: the first 8 hex characters of the id's SHA-256, which
 * cannot be turned back into the id.
 */
import { createHash } from 'node:crypto';

/** `<session 3fa4b2c1>`: a session id as log lines name it. */
export function sessionTag(id: string): string {
  return `<session ${createHash('sha256').update(id).digest('hex').slice(0, 8)}>`;
}

/** `text` with every one of `ids` in it replaced by its tag. */
export function withoutIds(text: string, ids: readonly (string | undefined)[]): string {
  let told = text;
  for (const id of ids) {
    if (id !== undefined && id !== '') told = told.split(id).join(sessionTag(id));
  }
  return told;
}

/**
 * An error as it may travel and be logged: its name, code and message with `ids` replaced by their
 * tags, and nothing else of it (a path, a query's parameters, a command's arguments can hold the id
 * or the data).
 */
export function redactedError(error: unknown, ids: readonly (string | undefined)[]): Error {
  const source = error as { name?: unknown; message?: unknown; code?: unknown } | null | undefined;
  const message = typeof source?.message === 'string' ? source.message : String(error);
  const redacted = new Error(withoutIds(message, ids));
  if (typeof source?.name === 'string') redacted.name = source.name;
  if (typeof source?.code === 'string' || typeof source?.code === 'number') {
    (redacted as Error & { code: unknown }).code = source.code;
  }
  return redacted;
}
