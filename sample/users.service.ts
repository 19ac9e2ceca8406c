import { Injectable } from '@nestjs/common';
import { createHash, timingSafeEqual } from 'node:crypto';

export const DEMO_USER = { id: 1, username: 'demo', password: 'demo', name: 'Demo User' } as const;

export interface User {
  id: number;
  username: string;
  name: string;
}

/** One fixed demo account; a real app asks its database and compares password hashes. */
@Injectable()
export class UsersService {
  verify(username: unknown, password: unknown): User | undefined {
    if (typeof username !== 'string' || typeof password !== 'string') return undefined;
    const nameOk = same(username.trim().toLowerCase(), DEMO_USER.username);
    const passwordOk = same(password, DEMO_USER.password);
    if (!nameOk || !passwordOk) return undefined;
    return { id: DEMO_USER.id, username: DEMO_USER.username, name: DEMO_USER.name };
  }
}

/** Constant-time comparison of two strings of any length. */
function same(a: string, b: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(a), digest(b));
}
