import type { SessionState } from '../core/session-state.js';
import type { Session } from '../session.js';

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
