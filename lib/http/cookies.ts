import type { IncomingMessage } from 'node:http';
import { parse, serialize, type SerializeOptions } from 'cookie';
import type { ResolvedSessionOptions } from '../session.options.js';

export type CookieJar = Readonly<Record<string, string | undefined>>;

export function readCookies(header: string | string[] | undefined): CookieJar {
  if (!header) return {};
  return parse(Array.isArray(header) ? header.join('; ') : header);
}

/** On a connection: the Cookie header its last request brought, and the cookies it held. */
const LAST = Symbol('nest-session:last-cookies');
type Connection = { [LAST]?: { header: string; jar: CookieJar } };

/**
 * A request's cookies. The requests of one connection mostly bring the same Cookie header (a
 * browser's keep-alive), so the last one read on a connection is kept with its cookies: the same
 * header again is compared, not parsed, and its values are the same strings as before, whose hashes
 * the lookups that follow (the verified-id cache, the store) have already computed. A connection
 * shared by many clients (a proxy's) only pays the comparison.
 */
export function requestCookies(req: IncomingMessage): CookieJar {
  const header = req.headers.cookie;
  const connection = req.socket as Connection | null;
  if (!header || connection === null) return readCookies(header);
  const last = connection[LAST];
  if (last !== undefined && last.header === header) return last.jar;
  const jar = Object.freeze(readCookies(header));
  connection[LAST] = { header, jar };
  return jar;
}

/** The attributes around Expires, for one cookie name with Secure on or off. */
interface Template {
  /** `; Domain=...; Path=...; Expires=` */
  head: string;
  /** `; HttpOnly; Secure; SameSite=...` */
  tail: string;
}

const EPOCH = new Date(0);
const EPOCH_UTC = EPOCH.toUTCString();
/** How a template's head ends (`cookie` writes Expires after Domain and Path). */
const EXPIRES = '; Expires=';

/**
 * Serialises the session cookies with the configured attributes. `cookie` validates name and
 * attributes once per cookie name; a value set here is base64url (a signed id or a seal), which
 * needs neither encoding nor checking, so each Set-Cookie is a concatenation around its Expires.
 */
export class CookieWriter {
  private readonly base: SerializeOptions;
  private readonly templates = new Map<string, [insecure: Template, secure: Template]>();
  private lastSecond = NaN;
  private lastDate = '';
  /** sameSite 'none' with secure 'auto': a cookie sent over plain http is one browsers drop (said once). */
  private unsafeNone: boolean;

  constructor(
    private readonly options: ResolvedSessionOptions['cookie'],
    private readonly warn: (message: string) => void = () => undefined,
  ) {
    this.unsafeNone = options.sameSite === 'none' && options.secure === 'auto';
    this.base = {
      path: options.path,
      domain: options.domain,
      httpOnly: options.httpOnly,
      sameSite: options.sameSite,
      partitioned: options.partitioned || undefined,
    };
  }

  /**
   * The Set-Cookie value; `expires` in ms since the epoch; with none, a browser-session cookie (gone
   * when the browser closes).
   */
  set(name: string, value: string, expires: number | undefined, secureRequest: boolean): string {
    if (this.unsafeNone && !secureRequest) this.warnUnsafeNone();
    const { head, tail } = this.template(name, this.secure(secureRequest));
    if (expires === undefined) return `${name}=${value}${head.slice(0, -EXPIRES.length)}${tail}`;
    return `${name}=${value}${head}${this.httpDate(expires)}${tail}`;
  }

  /**
   * An HTTP date (second precision): the last one formatted is kept, since the cookies a busy app
   * writes within a second mostly share their expiry's second (sessions created or touched then).
   */
  private httpDate(ms: number): string {
    const second = Math.floor(ms / 1000);
    if (second !== this.lastSecond) {
      this.lastSecond = second;
      this.lastDate = new Date(second * 1000).toUTCString();
    }
    return this.lastDate;
  }

  /** The byte length of the Set-Cookie value set() would write (cookie values here are ASCII). */
  size(name: string, value: string, secureRequest: boolean): number {
    const { head, tail } = this.template(name, this.secure(secureRequest));
    return name.length + 1 + value.length + head.length + EPOCH_UTC.length + tail.length;
  }

  clear(name: string, secureRequest: boolean): string {
    if (this.unsafeNone && !secureRequest) this.warnUnsafeNone();
    return serialize(name, '', {
      ...this.base,
      expires: new Date(0),
      maxAge: 0,
      secure: this.secure(secureRequest),
    });
  }

  private template(name: string, secure: boolean): Template {
    let pair = this.templates.get(name);
    if (pair === undefined) {
      const make = (secure: boolean): Template => {
        const sample = serialize(name, 'v', { ...this.base, expires: EPOCH, secure });
        const at = sample.indexOf(EPOCH_UTC);
        const head = sample.slice(name.length + 2, at);
        if (!head.endsWith(EXPIRES)) throw new Error(`unexpected Set-Cookie layout: ${sample}`);
        return { head, tail: sample.slice(at + EPOCH_UTC.length) };
      };
      pair = [make(false), make(true)];
      this.templates.set(name, pair);
    }
    return pair[secure ? 1 : 0];
  }

  /**
   * Chromium drops a SameSite=None cookie without Secure, so such a client never keeps a session and
   * nothing else says so: warned at the first such response, once.
   */
  private warnUnsafeNone(): void {
    this.unsafeNone = false;
    this.warn(
      "cookie.sameSite 'none' with cookie.secure 'auto': a response over plain http got a session cookie " +
        'without Secure, which browsers (Chromium) drop, so that client keeps no session. Serve the app over ' +
        "https; behind a TLS proxy, trust it (Express: app.set('trust proxy', 1); Fastify: new FastifyAdapter({ " +
        "trustProxy: true })) so X-Forwarded-Proto counts; or use cookie.sameSite 'lax'. Said once.",
    );
  }

  private secure(secureRequest: boolean): boolean {
    return this.options.secure === 'auto' ? secureRequest : this.options.secure;
  }
}
