import type { SessionState } from '../core/session-state.js';
import type { Session } from '../session.js';
import type { ResolvedSessionOptions } from '../session.options.js';

// What `req.session` (session-facade.ts) asks of its request, and what it forwards to `Session`.

/** `req.session.cookie`: express-session's view of the session cookie. */
export interface CookieView {
  path: string;
  domain: string | undefined;
  httpOnly: boolean;
  secure: boolean | 'auto';
  sameSite: string;
  /** When the cookie ends (the session's lifetime). */
  expires: Date;
  /** ms until then. */
  maxAge: number;
  originalMaxAge: number;
}

/** `req.session.cookie` for a session created at `createdAt`. */
export function cookieView(options: ResolvedSessionOptions, createdAt: number): CookieView {
  const { cookie, lifetime } = options;
  const expires = createdAt + lifetime;
  return {
    path: cookie.path,
    domain: cookie.domain,
    httpOnly: cookie.httpOnly,
    secure: cookie.secure,
    sameSite: cookie.sameSite,
    expires: new Date(expires),
    maxAge: expires - options.clock(),
    originalMaxAge: lifetime,
  };
}

/** Session methods `req.session` forwards, bound to the request's session. */
export const FORWARDED = [
  'get',
  'has',
  'set',
  'all',
  'delete',
  'pull',
  'flash',
  'getFlash',
  'flashes',
  'pushFlash',
  'pullFlash',
  'reflash',
  'keep',
  'reset',
  // Users and their devices: req.session.signIn(userId) binds as Session.signIn() does. (`userId`,
  // `handle` and `policy` stay data keys here: `req.session.userId = 1` is express-session's own idiom.)
  'signIn',
  'signOut',
  'usePolicy',
  'timeLeft',
] as const;

/** What a facade asks of its request (RequestContext). */
export interface FacadeHost {
  /** The default driver's state; throws the failure of a session that could not be loaded. */
  defaultState(): SessionState;
  cookieView(): CookieView;
  /** A `Session` over the default driver, bound to this request. */
  defaultSession(): Session;
}
