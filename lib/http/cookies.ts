import { parse, serialize, type SerializeOptions } from 'cookie';
import type { ResolvedSessionOptions } from '../session.options.js';

export type CookieJar = Record<string, string | undefined>;

export function readCookies(header: string | string[] | undefined): CookieJar {
  if (!header) return {};
  return parse(Array.isArray(header) ? header.join('; ') : header);
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

  constructor(private readonly options: ResolvedSessionOptions['cookie']) {
    this.base = {
      path: options.path,
      domain: options.domain,
      httpOnly: options.httpOnly,
      sameSite: options.sameSite,
      partitioned: options.partitioned || undefined,
    };
  }

  /** The Set-Cookie value; with no `expires`, a browser-session cookie (gone when the browser closes). */
  set(name: string, value: string, expires: Date | undefined, secureRequest: boolean): string {
    const { head, tail } = this.template(name, this.secure(secureRequest));
    if (expires === undefined) return `${name}=${value}${head.slice(0, -EXPIRES.length)}${tail}`;
    return `${name}=${value}${head}${expires.toUTCString()}${tail}`;
  }

  /** The byte length of the Set-Cookie value set() would write (cookie values here are ASCII). */
  size(name: string, value: string, secureRequest: boolean): number {
    const { head, tail } = this.template(name, this.secure(secureRequest));
    return name.length + 1 + value.length + head.length + EPOCH_UTC.length + tail.length;
  }

  clear(name: string, secureRequest: boolean): string {
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

  private secure(secureRequest: boolean): boolean {
    return this.options.secure === 'auto' ? secureRequest : this.options.secure;
  }
}
