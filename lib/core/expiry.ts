/** The two limits every driver enforces on the server, in ms. */
export interface Timeouts {
  idleTimeout: number;
  lifetime: number;
}

export function isExpired(t: Timeouts, createdAt: number, lastActivity: number, now: number): boolean {
  return now - lastActivity > t.idleTimeout || now - createdAt > t.lifetime;
}

/** When a session active now ends: at its idle end or its lifetime end, whichever comes first. */
export function expiresAt(t: Timeouts, createdAt: number, now: number): number {
  return Math.min(now + t.idleTimeout, createdAt + t.lifetime);
}

/** An unmodified session is written again only when its last activity is this stale (1% of the idle timeout, 1 s at least). */
export function needsTouch(t: Timeouts, lastActivity: number | undefined, now: number): boolean {
  return lastActivity !== undefined && now - lastActivity >= touchInterval(t);
}

/** How stale an unmodified session's last activity must be before it is written again, in ms. */
export function touchInterval(t: Timeouts): number {
  return Math.max(1000, t.idleTimeout / 100);
}

/**
 * How long a retired id (regenerated, destroyed, revoked) stays known as retired, in ms. Within it, a
 * request that brings the id writes nothing (409) and does not replace the client's cookie: the
 * response that retired it carries the one to keep. After it, a client that still brings the id (its
 * response to regenerate() or destroy() was lost) gets a fresh session with a new id, so it can sign
 * in again. The id itself never returns: a request that loaded it earlier can still write nothing.
 */
export const RETIRED_GRACE = 30_000;

/** Until when a retired id's tombstone is kept: the grace window, or the session's end if sooner. */
export function retiredUntil(t: Timeouts, createdAt: number, now: number): number {
  return Math.min(expiresAt(t, createdAt, now), now + RETIRED_GRACE);
}
