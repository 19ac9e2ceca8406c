import { isIPv4, isIPv6 } from 'node:net';
import type { SessionUser } from '../core/change-set.js';
import type { ResolvedUsersOptions } from './users.options.js';

/** What is kept of a device at sign-in, as `users.device` says: the User-Agent, the address whole or truncated. */
export function deviceOf(
  seen: { userAgent: string | undefined; ip: string | undefined },
  keep: ResolvedUsersOptions['device'],
): Pick<SessionUser, 'userAgent' | 'ip'> {
  const device: Pick<SessionUser, 'userAgent' | 'ip'> = {};
  if (keep.userAgent && seen.userAgent) device.userAgent = seen.userAgent.slice(0, 512);
  if (keep.ip !== false && seen.ip) {
    const ip = keep.ip === 'full' ? seen.ip : truncateIp(seen.ip);
    if (ip !== undefined) device.ip = ip;
  }
  return device;
}

/**
 * An address with its host part dropped: an IPv4 address to its /24 (203.0.113.0), an IPv6 one to
 * its /48 (2001:db8:1::); an IPv4-mapped IPv6 address as IPv4. Anything else is not kept.
 */
export function truncateIp(ip: string): string | undefined {
  const v4 = ip.startsWith('::ffff:') && isIPv4(ip.slice(7)) ? ip.slice(7) : ip;
  if (isIPv4(v4)) return `${v4.split('.').slice(0, 3).join('.')}.0`;
  if (!isIPv6(ip)) return undefined;
  const [head, tail = ''] = ip.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === '' ? [] : tail.split(':');
  const groups = [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return `${groups
    .slice(0, 3)
    .map((g) => parseInt(g, 16).toString(16))
    .join(':')}::`;
}
