import { parse, serialize, type SerializeOptions } from 'cookie';
import type { ResolvedSessionOptions } from '../session.options.js';

export type CookieJar = Record<string, string | undefined>;

export function readCookies(header: string | string[] | undefined): CookieJar {
  if (!header) return {};
  return parse(Array.isArray(header) ? header.join('; ') : header);
}

/** Serialises the session cookies with the configured attributes. */
export class CookieWriter {
  private readonly base: SerializeOptions;

  constructor(private readonly options: ResolvedSessionOptions['cookie']) {
    this.base = {
      path: options.path,
      domain: options.domain,
      httpOnly: options.httpOnly,
      sameSite: options.sameSite,
    };
  }

  set(name: string, value: string, expires: Date | undefined, secureRequest: boolean): string {
    return serialize(name, value, { ...this.base, expires, secure: this.secure(secureRequest) });
  }

  clear(name: string, secureRequest: boolean): string {
    return serialize(name, '', {
      ...this.base,
      expires: new Date(0),
      maxAge: 0,
      secure: this.secure(secureRequest),
    });
  }

  private secure(secureRequest: boolean): boolean {
    return this.options.secure === 'auto' ? secureRequest : this.options.secure;
  }
}
