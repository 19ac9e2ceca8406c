import { afterAll, describe, expect, it } from '@jest/globals';
import type { DynamicModule, Type } from '@nestjs/common';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SessionChanges, SessionMeta, SessionModuleOptions } from 'nest-session';
import { sessionTag } from '../../lib/core/session-tag.js';
import { cookiePair, createApp, http, platforms, type Platform } from '../support/app.js';
import { RecordingLogger } from '../support/logger.js';
import { SECRET, sessionApp } from '../support/session-app.js';
import { DataSource } from 'typeorm';
import { MapStore, extendModule } from '../support/stores.js';

// A failing store's log lines name the session by a tag, never by its id (a credential): not in a
// path Node's error names, not in an SQL error that echoes a parameter, not in a custom store's
// message. Each case breaks a store under a live session, then reads every line the app logged.

const root = mkdtempSync(join(tmpdir(), 'nest-session-store-logs-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let places = 0;
const place = () => join(root, `p${++places}`);
const DATA = 'classified-value-7f3a';

/** An app with a session in it; `breakStore` breaks its store; the request after that fails. */
async function failingRequest(
  platform: Platform,
  options: SessionModuleOptions,
  breakStore: () => unknown,
  extra: Array<Type | DynamicModule> = [],
) {
  const logger = new RecordingLogger();
  const app = await createApp(platform, sessionApp(options, extra), logger);
  try {
    const res = await http(app).post('/set').send({ note: DATA }).expect(200);
    const cookie = cookiePair(res, 'nest_session')!;
    const { id } = (await http(app).get('/state').set('Cookie', cookie).expect(200)).body as { id: string };
    await breakStore();
    const failed = await http(app).post('/set').set('Cookie', cookie).send({ more: 1 });
    return { status: failed.status, id, logger };
  } finally {
    await app.close();
  }
}

function expectNoIdLogged(logger: RecordingLogger, id: string): void {
  expect(logger.errors()).toEqual([expect.stringContaining(sessionTag(id))]);
  for (const { message } of logger.entries) {
    expect(message).not.toContain(id);
    expect(message).not.toContain(DATA);
  }
}

/** A custom store whose errors name the id, as many databases' do. */
class TalkativeStore extends MapStore {
  failing = false;
  override async apply(id: string, changes: SessionChanges, meta: SessionMeta) {
    if (this.failing) throw new Error(`duplicate key value violates unique constraint: (id)=(${id})`);
    return super.apply(id, changes, meta);
  }
}

describe.each(platforms)('a failing store logs no session id, on %s', (platform) => {
  it('file: Node names the session file in its error', async () => {
    const directory = join(place(), 'sessions');
    const { status, id, logger } = await failingRequest(
      platform,
      { driver: 'file', secret: SECRET, file: { directory, pruneInterval: 0 } },
      () => {
        // The directory replaced by a file: reading `<dir>/<id>.json` fails with ENOTDIR.
        rmSync(directory, { recursive: true });
        writeFileSync(directory, '');
      },
    );
    expect(status).toBe(503);
    expectNoIdLogged(logger, id);
    expect(logger.errors()[0]).toContain(`${sessionTag(id)}.json`);
  });

  it('database (SQLite): an SQL error that echoes the id', async () => {
    const database = `${place()}.sqlite`;
    const { status, id, logger } = await failingRequest(
      platform,
      { driver: 'database', secret: SECRET, database: { dataSource: { type: 'better-sqlite3', database } } },
      async () => {
        const db = await new DataSource({ type: 'better-sqlite3', database }).initialize();
        await db.query(
          "CREATE TRIGGER refuse BEFORE UPDATE ON sessions BEGIN SELECT RAISE(ABORT, 'refused ' || NEW.id); END",
        );
        await db.destroy();
      },
    );
    expect(status).toBe(503);
    expectNoIdLogged(logger, id);
  });

  it("a custom store: the store's own message names the id", async () => {
    const store = new TalkativeStore();
    const { status, id, logger } = await failingRequest(
      platform,
      { driver: 'talkative', secret: SECRET },
      () => (store.failing = true),
      [extendModule('talkative', () => store)],
    );
    expect(status).toBe(503);
    expectNoIdLogged(logger, id);
  });
});
