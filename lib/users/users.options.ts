import { invalid } from '../core/option-checks.js';

/** `forRoot({ users })`: how sessions bound to users (signIn()) are kept and limited. */
export interface SessionUsersOptions {
  /** How many live sessions one user may have at once. Default: no limit. */
  maxPerUser?: number;
  /**
   * What a sign-in past maxPerUser does: 'revoke-oldest' (default) signs the user's oldest session
   * out, in the same atomic step as the sign-in; 'reject' refuses the sign-in (409 SESSION_USER_LIMIT).
   */
  onLimit?: 'revoke-oldest' | 'reject';
  /** What is kept of the device at sign-in, for `SessionRegistry.list()`. */
  device?: {
    /** The User-Agent header. Default true. */
    userAgent?: boolean;
    /** The client's address: 'full', 'truncated' (IPv4 /24, IPv6 /48; default) or false. */
    ip?: 'full' | 'truncated' | false;
  };
  /**
   * The cookie driver only: the name of a server-side driver ('redis', 'database', ...) whose store
   * keeps the small revocation record that makes cookie sessions listable and revocable.
   */
  revocationStore?: string;
}

export interface ResolvedUsersOptions {
  /** Whether `users` was given: then a driver that cannot keep the user index is a start-up error. */
  configured: boolean;
  maxPerUser: number;
  onLimit: 'revoke-oldest' | 'reject';
  device: { userAgent: boolean; ip: 'full' | 'truncated' | false };
  revocationStore: string | undefined;
}

export function resolveUsersOptions(input: SessionUsersOptions | undefined): ResolvedUsersOptions {
  const users = input ?? {};
  const resolved: ResolvedUsersOptions = {
    configured: input !== undefined,
    maxPerUser: users.maxPerUser ?? Infinity,
    onLimit: users.onLimit ?? 'revoke-oldest',
    device: { userAgent: users.device?.userAgent ?? true, ip: users.device?.ip ?? 'truncated' },
    revocationStore: users.revocationStore,
  };
  const { maxPerUser, onLimit, device, revocationStore } = resolved;
  if (maxPerUser !== Infinity && (!Number.isInteger(maxPerUser) || maxPerUser < 1)) {
    invalid('users.maxPerUser must be a whole number, 1 or more');
  }
  if (onLimit !== 'revoke-oldest' && onLimit !== 'reject') {
    invalid(`users.onLimit must be 'revoke-oldest' or 'reject'`);
  }
  if (typeof device.userAgent !== 'boolean') invalid('users.device.userAgent must be true or false');
  if (!['full', 'truncated', false].includes(device.ip)) {
    invalid(`users.device.ip must be 'full', 'truncated' or false`);
  }
  if (revocationStore !== undefined && (typeof revocationStore !== 'string' || revocationStore === '')) {
    invalid(`users.revocationStore must be the name of a server-side driver, such as 'redis'`);
  }
  return resolved;
}
