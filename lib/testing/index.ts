// nest-session/testing: the testing kit, an entry point of its own. The package's root entry
// (lib/index.ts) never loads it, so an app's production code does not carry it.
export {
  SessionTesting,
  type MintOptions,
  type RunInSessionOptions,
  type InSession,
  type NestContext,
} from './session-testing.js';
export type { SessionSnapshot, SessionExpectations } from './expectations.js';
export type { SessionSource } from './cookie-source.js';
export type { TestClock } from './test-clock.js';
export type { TestDevice } from './test-scope.js';
export { toBrowserCookie, type BrowserCookie, type BrowserCookieOptions } from './browser-cookie.js';
