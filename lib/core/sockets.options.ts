import { interval, invalid } from './option-checks.js';

/** `forRoot({ sockets })`: the sessions of WebSocket gateways' sockets (lib/realtime/). */
export interface SessionSocketsOptions {
  /**
   * How often, in ms, the session of every connected socket is read again from the store, so that a
   * socket whose session ended elsewhere (signed out or revoked in another process, destroyed by an
   * admin) or expired is disconnected. A socket's session is also read at each of its messages, and a
   * session ended in this process disconnects its sockets at once. 0: no timer. Default 30 s.
   */
  checkInterval?: number;
}

export interface ResolvedSocketsOptions {
  checkInterval: number;
}

export const SOCKETS_DEFAULTS: ResolvedSocketsOptions = { checkInterval: 30_000 };

export function resolveSocketsOptions(input: SessionSocketsOptions | undefined): ResolvedSocketsOptions {
  if (input !== undefined && (typeof input !== 'object' || input === null))
    invalid('sockets must be an object');
  const resolved = { checkInterval: input?.checkInterval ?? SOCKETS_DEFAULTS.checkInterval };
  interval('sockets.checkInterval', resolved.checkInterval);
  return resolved;
}
