import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { fileURLToPath } from 'node:url';
import { testDriver } from '../support/drivers.js';
import { root } from '../support/typecheck.js';
import { ScriptProcess } from '../support/script-process.js';
import { socketLibraries, type SocketLibrary } from '../support/socket-app.js';
import { TestSocket } from '../support/socket-client.js';

// Two app processes on one store: a socket connected to one process is disconnected when its
// session ends through the other (signed out, retired, revoked), by the timer that reads each
// socket's session again (sockets.checkInterval); its messages see what the other process changed.
// On Redis and on PostgreSQL, whose store has the user index that revoking needs.

const CHILD = fileURLToPath(new URL('../support/socket-app-child.ts', import.meta.url));
const ENDED: Record<SocketLibrary, number | string> = { 'socket.io': 'io server disconnect', ws: 4401 };

const drivers = [
  { driver: testDriver('redis'), revokes: false },
  { driver: testDriver('postgres'), revokes: true },
];
afterAll(() => Promise.all(drivers.map(({ driver }) => driver.cleanup())));
const cases = drivers.flatMap((d) => socketLibraries.map((library) => [d.driver.label, library, d] as const));

/** HTTP to one process with a cookie; answers the body and the cookie to keep. */
async function http(
  app: ScriptProcess,
  method: 'GET' | 'POST',
  path: string,
  cookie?: string,
  body: unknown = {},
) {
  const res = await fetch(app.url + path, {
    method,
    headers: {
      ...(cookie ? { cookie } : {}),
      ...(method === 'POST' ? { 'content-type': 'application/json' } : {}),
    },
    body: method === 'POST' ? JSON.stringify(body) : undefined,
  });
  const set = res.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .find((c) => c.startsWith('nest_session='));
  return { body: (await res.json()) as any, cookie: set ?? cookie };
}

describe.each(cases)(
  'sockets on two app processes on %s, with %s',
  (_label, library, { driver, revokes }) => {
    let a: ScriptProcess;
    let b: ScriptProcess;
    const sockets: TestSocket[] = [];
    const connect = async (app: ScriptProcess, cookie: string) => {
      const socket = await TestSocket.connect(library, app.url, cookie);
      sockets.push(socket);
      await socket.next('hello');
      return socket;
    };
    beforeAll(async () => {
      const options = { ...driver.options(), sockets: { checkInterval: 50 } };
      const start = () =>
        ScriptProcess.start(CHILD, { cwd: root, args: [JSON.stringify(options), 'express', library] });
      // One after the other: the first creates the table.
      a = await start();
      b = await start();
    }, 60_000);
    afterAll(async () => {
      sockets.forEach((socket) => socket.close());
      await Promise.all([a?.stop(), b?.stop()]);
    });

    it("a socket's messages see the other process's changes, and its changes reach the other process", async () => {
      const { cookie } = await http(a, 'POST', '/auth/set', undefined, { name: 'ada' });
      const socket = await connect(a, cookie!);
      await http(b, 'POST', '/auth/set', cookie, { theme: 'dark' });
      expect((await socket.ask('whoami')).data).toMatchObject({ fromRequest: 'dark', data: { name: 'ada' } });
      expect(await socket.ask('set', { color: 'blue' })).toEqual({ event: 'set', data: 'ok' });
      expect((await http(b, 'GET', '/auth/me', cookie)).body.data).toEqual({
        name: 'ada',
        connections: 1,
        theme: 'dark',
        color: 'blue',
      });
    }, 20_000);

    it('signing out on one process disconnects the sockets on both', async () => {
      const { cookie } = await http(a, 'POST', '/auth/sign-in/bob');
      const [onA, onB] = [await connect(a, cookie!), await connect(b, cookie!)];
      await http(b, 'POST', '/auth/sign-out', cookie);
      expect(await onB.closed).toBe(ENDED[library]);
      expect(await onA.closed).toBe(ENDED[library]);
    }, 20_000);

    // Redis's store has no user index yet: it cannot revoke.
    if (revokes)
      it("revoking a user's sessions on one process disconnects their sockets on the other", async () => {
        const laptop = (await http(a, 'POST', '/auth/sign-in/eve')).cookie!;
        const phone = (await http(a, 'POST', '/auth/sign-in/eve')).cookie!;
        const [onLaptop, onPhone] = [await connect(a, laptop), await connect(a, phone)];
        const other = await connect(a, (await http(a, 'POST', '/auth/sign-in/fay')).cookie!);
        expect((await http(b, 'POST', '/auth/revoke-all/eve')).body).toEqual({ revoked: 2 });
        expect(await onLaptop.closed).toBe(ENDED[library]);
        expect(await onPhone.closed).toBe(ENDED[library]);
        expect((await other.ask('whoami')).data.userId).toBe('fay');
      }, 20_000);

    it("a new id on one process (regenerate(), as at sign-in) disconnects the old id's sockets on the other", async () => {
      const { cookie } = await http(a, 'POST', '/auth/set', undefined, { name: 'cy' });
      // Each counts its connection after its greeting: a message waits for that count to be kept,
      // so the second connection reads the first's.
      const one = await connect(a, cookie!);
      await one.ask('whoami');
      const two = await connect(a, cookie!);
      await two.ask('whoami');
      const other = await connect(
        a,
        (await http(a, 'POST', '/auth/set', undefined, { name: 'dee' })).cookie!,
      );
      const renewed = await http(b, 'POST', '/regenerate', cookie);
      expect(renewed.cookie).not.toBe(cookie);
      expect(await one.closed).toBe(ENDED[library]);
      expect(await two.closed).toBe(ENDED[library]);
      expect((await other.ask('whoami')).data.data).toEqual({ name: 'dee', connections: 1 });
      const again = await connect(a, renewed.cookie!);
      expect((await again.ask('whoami')).data.data).toEqual({ name: 'cy', connections: 3 });
    }, 20_000);
  },
);
