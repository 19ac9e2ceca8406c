export { SessionModule } from './session.module.js';
export { Session, type SessionData, type SignInOptions, type SessionTimeLeft } from './session.js';
export { SessionRegistry, type SessionDevice } from './users/session-registry.js';
export { SessionManager, type SessionStoreFactory } from './session-manager.js';
export { Flash } from './flash/flash.decorator.js';
export { KeepFlash } from './flash/keep-flash.decorator.js';
export { FlashInterceptor } from './flash/flash.interceptor.js';
export { SessionSockets } from './realtime/sockets.js';
export type { SocketShape } from './realtime/socket-shapes.js';
export type { SessionSocketsOptions } from './core/sockets.options.js';
export { SessionEvents } from './events/session-events.js';
export { OnSessionEvent } from './events/on-session-event.decorator.js';
export type { SessionEvent, SessionEventMap, SessionEventName } from './events/session-event.js';
export { SessionHealthIndicator, type SessionHealthResult } from './events/session-health.indicator.js';
export { NoTouch } from './events/no-touch.decorator.js';
export { NoTouchInterceptor } from './events/no-touch.interceptor.js';
export {
  applyChanges,
  emptyRecord,
  type SessionStore,
  type PrunableSessionStore,
  type ClosableSessionStore,
  type SynchronousSessionStore,
  type UserIndexedSessionStore,
  type SessionUser,
  type UserLimit,
  type StartupCheckedSessionStore,
  type DiagnosingSessionStore,
  type SessionRecord,
  type SessionChanges,
  type SessionMeta,
} from './stores/session-store.js';
export type { SessionPolicyOptions } from './core/policies.js';
export type { SessionUsersOptions } from './users/users.options.js';
export type {
  SessionModuleOptions,
  SessionCookieOptions,
  ResolvedSessionOptions,
} from './session.options.js';
export {
  SessionError,
  SessionConfigError,
  SessionOutsideRequestError,
  SessionStoreUnavailableError,
  SessionStoreMisconfiguredError,
  SessionTooLargeError,
  SessionConflictError,
  SessionReadOnlyError,
  SessionUserLimitError,
  type SessionErrorCode,
} from './session.errors.js';
export { fromExpressSessionStore } from './stores/express-session.adapter.js';
export type { ExpressSessionStore } from './stores/express-session.store.js';
export type { SessionMigrationOptions } from './migration/migration.options.js';
