import { parseCookie, parseSetCookie } from 'cookie';

/**
 * Where the kit finds a session cookie: a response (supertest's or superagent's, Node's
 * `IncomingMessage`, light-my-request's from `app.inject()`, or a fetch `Response`), a `Set-Cookie`
 * value or a list of them, or a `Cookie` header value (what `mint()` gives).
 */
export type SessionSource = string | readonly string[] | { readonly headers: unknown };

/** What a source says of one cookie. */
export interface CookieSighting {
  /** The value the client holds after it: the one the response set, else the one the request sent. */
  value: string | undefined;
  /** The response cleared the cookie (an empty value, or one that has expired). */
  cleared: boolean;
}

/** Attributes only a Set-Cookie value has: what tells it from a Cookie header. */
const SET_COOKIE_ATTRIBUTE =
  /;\s*(expires|max-age|domain|path|secure|httponly|samesite|partitioned|priority)\b/i;

/** The cookie `name` as the source leaves it; `now` (the app's clock) tells an expired Set-Cookie. */
export function sightCookie(source: SessionSource, name: string, now: number): CookieSighting {
  const { setCookies, cookieHeader } = split(source);
  for (const line of [...setCookies].reverse()) {
    const set = parseSetCookie(line);
    if (set.name !== name) continue;
    const cleared =
      set.value === '' || set.maxAge === 0 || (set.expires !== undefined && set.expires.getTime() <= now);
    return { value: cleared ? undefined : set.value, cleared };
  }
  const value = cookieHeader === undefined ? undefined : parseCookie(cookieHeader)[name];
  return { value: value === '' ? undefined : value, cleared: false };
}

/** A source's Set-Cookie values, and the Cookie header of its request (or the header it is). */
function split(source: SessionSource): { setCookies: string[]; cookieHeader: string | undefined } {
  if (typeof source === 'string') source = [source];
  if (isList(source)) {
    const setCookies = source.filter((line) => SET_COOKIE_ATTRIBUTE.test(line));
    const pairs = source.filter((line) => !SET_COOKIE_ATTRIBUTE.test(line));
    return { setCookies, cookieHeader: pairs.length === 0 ? undefined : pairs.join('; ') };
  }
  if (typeof source !== 'object' || source === null || !('headers' in source)) {
    throw new TypeError(
      'nest-session/testing: read() takes a response (supertest, app.inject(), fetch), a Set-Cookie value or a Cookie header',
    );
  }
  return { setCookies: setCookiesOf(source.headers), cookieHeader: requestCookieOf(source) };
}

function isList(source: SessionSource): source is readonly string[] {
  return Array.isArray(source);
}

function setCookiesOf(headers: unknown): string[] {
  if (typeof headers !== 'object' || headers === null) return [];
  // fetch's Headers (undici): getSetCookie() keeps each Set-Cookie apart.
  const fetchHeaders = headers as { getSetCookie?: () => string[] };
  if (typeof fetchHeaders.getSetCookie === 'function') return fetchHeaders.getSetCookie();
  const value = (headers as Record<string, unknown>)['set-cookie'];
  if (value === undefined || value === null) return [];
  return Array.isArray(value) ? value.map(String) : [String(value)];
}

/**
 * The Cookie header the response's request sent: Node's client request (supertest, superagent,
 * http.request) keeps it, light-my-request keeps the request it made. A fetch Response knows none.
 */
function requestCookieOf(response: object): string | undefined {
  const { req, raw } = response as {
    req?: { getHeader?: (name: string) => unknown; headers?: Record<string, unknown> };
    raw?: { req?: { headers?: Record<string, unknown> } };
  };
  const header =
    typeof req?.getHeader === 'function'
      ? req.getHeader('cookie')
      : (req?.headers?.cookie ?? raw?.req?.headers?.cookie);
  if (header === undefined || header === null) return undefined;
  return Array.isArray(header) ? header.join('; ') : String(header);
}
