import { parseCookie } from 'cookie';

/**
 * A cookie as browser drivers take it: Playwright's `context.addCookies([cookie])`, and Cypress's
 * `cy.setCookie(name, value, options)` with the rest as its options. No SameSite and no expiry: the
 * browser's defaults (Lax; gone when the browser closes), which both take and a test never crosses.
 */
export interface BrowserCookie {
  name: string;
  value: string;
  domain: string;
  path: string;
  httpOnly: boolean;
  secure: boolean;
}

export interface BrowserCookieOptions {
  /** The app's address as the browser opens it (`http://localhost:3000`): the cookie's domain and Secure. */
  url: string | URL;
  /** The app's `cookie.path`. Default '/'. */
  path?: string;
  /** The app's `cookie.httpOnly`. Default true. */
  httpOnly?: boolean;
}

/**
 * The browser cookies for a Cookie header value (what `mint()` gives), so a browser starts signed in:
 * `await context.addCookies(toBrowserCookie(cookie, { url }))`.
 */
export function toBrowserCookie(cookie: string, options: BrowserCookieOptions): BrowserCookie[] {
  if (typeof cookie !== 'string' || cookie === '') {
    throw new TypeError('toBrowserCookie(cookie): cookie is a Cookie header value, as mint() gives it');
  }
  const url = new URL(options.url);
  const jar = parseCookie(cookie);
  return Object.keys(jar).flatMap((name) => {
    const value = jar[name];
    if (value === undefined) return [];
    return [
      {
        name,
        value,
        domain: url.hostname,
        path: options.path ?? '/',
        httpOnly: options.httpOnly ?? true,
        secure: url.protocol === 'https:',
      },
    ];
  });
}
