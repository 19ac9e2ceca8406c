import { SessionError } from '../session.errors.js';

/**
 * The kit signs and seals sessions with the app's own secret: in a deployed app that would let
 * anyone who reaches it forge a signed-in session. It refuses to run where NODE_ENV says production.
 */
export function refuseInProduction(what: string): void {
  if (process.env.NODE_ENV !== 'production') return;
  throw new SessionError(
    'SESSION_TESTING_IN_PRODUCTION',
    `nest-session/testing ${what} with the app's secret, which would let anyone forge a signed-in ` +
      "session: it refuses to run while NODE_ENV is 'production'. Run tests with NODE_ENV=test (Jest and Vitest set it)",
  );
}
