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
  return lastActivity !== undefined && now - lastActivity >= Math.max(1000, t.idleTimeout / 100);
}
