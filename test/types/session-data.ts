// Compiled by test/unit/types.spec.ts in a program of its own (the augmentation would type every test).
/* eslint-disable @typescript-eslint/no-unused-vars -- values exist only to be type-checked */
import type { Session } from 'nest-session';

declare module 'nest-session' {
  interface SessionData {
    userId: number;
    roles: string[];
  }
}

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const assert = <T extends true>(): T => true as T;

export function typedKeys(session: Session): void {
  const userId = session.get('userId');
  assert<Equal<typeof userId, number | undefined>>();
  const withDefault = session.get('userId', 0);
  assert<Equal<typeof withDefault, number>>();
  const roles = session.pull('roles');
  assert<Equal<typeof roles, string[] | undefined>>();
  const untyped = session.get('somethingElse');
  assert<Equal<typeof untyped, unknown>>();
  session.set('userId', 1);
  session.set('roles', ['admin']);
  session.set('anything', { free: 'form' });
  // @ts-expect-error userId is a number
  session.set('userId', 'one');
  // @ts-expect-error roles is string[]
  session.set('roles', [1]);
  const all = session.all();
  assert<Equal<typeof all.userId, number | undefined>>();
}
