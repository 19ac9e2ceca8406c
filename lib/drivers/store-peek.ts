import type { Policies } from '../core/policies.js';
import type { Keyring } from '../crypto/keyring.js';
import type { PeekingSessionStore } from '../stores/session-store.js';
import type { SessionDriver } from './session-driver.js';

/**
 * `unusedNeedsCommit` of a store driver whose store can peek (the memory store): whether a session
 * no handler used needs its commit, from the peek alone. A touch that is due (judged by the shortest
 * touch interval of any policy; the commit then judges by the session's own), or flash a 2xx
 * consumes. A cookie that does not verify, an unknown or retired id: nothing to write.
 */
export function unusedCheck(
  store: PeekingSessionStore,
  keyring: Keyring,
  cookieName: string,
  policies: Policies,
): NonNullable<SessionDriver['unusedNeedsCommit']> {
  const touchAfter = policies.shortestTouchInterval();
  return (cookie, consume, now, noTouch) => {
    const id = keyring.unsign(cookieName, cookie);
    if (id === undefined) return false;
    const peek = store.peekNow(id);
    if (peek === undefined || peek === 'retired') return false;
    return (consume === true && peek.hasFlash) || (!noTouch && now - peek.lastActivity >= touchAfter);
  };
}
