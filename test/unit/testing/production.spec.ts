import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { Test, type TestingModule } from '@nestjs/testing';
import { SessionModule } from 'nest-session';
import { SessionTesting } from 'nest-session/testing';
import { SECRET } from '../../support/session-app.js';

describe('the testing kit where NODE_ENV is production', () => {
  let moduleRef: TestingModule;
  const environment = process.env.NODE_ENV;
  beforeAll(async () => {
    moduleRef = await Test.createTestingModule({
      imports: [SessionModule.forRoot({ secret: SECRET })],
    }).compile();
  });
  afterEach(() => {
    process.env.NODE_ENV = environment;
  });
  afterAll(() => moduleRef.close());

  it('refuses to mint, read, assert or run in a session, with a coded error that says why', async () => {
    const sessions = SessionTesting.for(moduleRef);
    const cookie = await sessions.mint({ data: { a: 1 } });
    expect(await sessions.read(cookie)).toMatchObject({ data: { a: 1 } });

    process.env.NODE_ENV = 'production';
    const refusal = {
      code: 'SESSION_TESTING_IN_PRODUCTION',
      message: expect.stringContaining("it refuses to run while NODE_ENV is 'production'"),
    };
    await expect(sessions.mint({ userId: 'u1' })).rejects.toMatchObject(refusal);
    await expect(sessions.read(cookie)).rejects.toMatchObject(refusal);
    expect(() => sessions.expect(cookie)).toThrow(expect.objectContaining(refusal));
    await expect(SessionTesting.runInSession(moduleRef, {}, () => 1)).rejects.toMatchObject(refusal);
    await expect(sessions.mint({ userId: 'u1' })).rejects.toThrow(
      "SESSION_TESTING_IN_PRODUCTION: nest-session/testing mints sessions with the app's secret, which would let anyone forge a signed-in session",
    );

    process.env.NODE_ENV = 'test';
    expect(await sessions.read(cookie)).toMatchObject({ data: { a: 1 } });
  });
});
