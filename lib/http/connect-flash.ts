import { format } from 'node:util';
import { SessionConfigError } from '../session.errors.js';

interface WithSession {
  session?: {
    pushFlash?(level: string, message: unknown): number;
    pullFlash?(level?: string): unknown;
  };
}

/**
 * connect-flash's `req.flash(type, message?)` over the session's levelled messages:
 * `req.flash(type, message)` appends (an array appends each, extra arguments format the message as
 * util.format does) and returns how many that type now holds; `req.flash(type)` returns the type's
 * messages and removes them; `req.flash()` returns every type's and removes them.
 */
export function connectFlash(this: WithSession, type?: string, ...message: unknown[]): unknown {
  const session = this.session;
  if (session?.pushFlash === undefined || session.pullFlash === undefined) {
    throw new SessionConfigError(
      'SESSION_MODULE_NOT_CONFIGURED',
      'req.flash() needs a session: import SessionModule.forRoot() in the root module',
    );
  }
  if (type === undefined) return session.pullFlash();
  if (message.length === 0) return session.pullFlash(type);
  const messages = Array.isArray(message[0])
    ? (message[0] as unknown[])
    : [message.length > 1 ? format(...(message as [unknown, ...unknown[]])) : message[0]];
  let count = 0;
  for (const text of messages) count = session.pushFlash(type, text);
  return count;
}
