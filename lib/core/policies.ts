import { touchInterval, type Timeouts } from './expiry.js';

/** `forRoot({ policies: { name: { ... } } })`: how long the sessions that follow it last. */
export interface SessionPolicyOptions {
  /** ms without a request before the session ends. Default: the module's idleTimeout. */
  idleTimeout?: number;
  /** ms from creation, whatever the activity. Default: the module's lifetime. */
  lifetime?: number;
  /**
   * false: the cookie is a browser-session cookie (no Expires: it goes when the browser closes) and
   * the server still ends the session after idleTimeout. Default true.
   */
  persistent?: boolean;
}

/** A policy as every expiry check reads it. */
export interface SessionPolicy extends Timeouts {
  /** undefined: the default policy (the module's own timeouts). */
  readonly name: string | undefined;
  readonly persistent: boolean;
}

/**
 * The module's policies: the default one (its idleTimeout and lifetime) and the named ones a session
 * can follow (`signIn(id, { policy })`, `usePolicy(name)`). A session stored with a name the module
 * no longer has follows the default one.
 */
export class Policies {
  private readonly named: ReadonlyMap<string, SessionPolicy>;

  constructor(
    readonly base: SessionPolicy,
    named: Iterable<SessionPolicy> = [],
  ) {
    this.named = new Map([...named].map((policy) => [policy.name!, policy]));
  }

  of(name: string | undefined): SessionPolicy {
    return name === undefined ? this.base : (this.named.get(name) ?? this.base);
  }

  has(name: string): boolean {
    return this.named.has(name);
  }

  names(): string[] {
    return [...this.named.keys()];
  }

  /** The shortest touch interval (core/expiry.ts) of any policy: no session is due before it. */
  shortestTouchInterval(): number {
    return Math.min(touchInterval(this.base), ...[...this.named.values()].map(touchInterval));
  }
}
