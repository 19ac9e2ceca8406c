import { HttpException, HttpStatus } from '@nestjs/common';

/**
 * Every code a SessionError can carry, in one place (the README's "Errors" section lists the same).
 * Start-up codes say what to set; request codes become the response's status.
 */
export const SESSION_ERROR_CODES = [
  /** No secret in production: set forRoot({ secret }) or SESSION_SECRET. */
  'SESSION_SECRET_MISSING',
  /** A secret shorter than 32 characters. */
  'SESSION_SECRET_TOO_SHORT',
  /** In production, a secret with too little variety (under 64 bits by its characters): use a random one. */
  'SESSION_SECRET_WEAK',
  /** A cookie option browsers would reject or drop (name, sameSite, secure, prefixes). */
  'SESSION_COOKIE_INVALID',
  /** `driver` is not a name. */
  'SESSION_DRIVER_INVALID',
  /** No driver of that name: a built-in one or one registered with SessionManager.extend(). */
  'SESSION_DRIVER_UNKNOWN',
  /** extend() of a driver that has already served a request. */
  'SESSION_DRIVER_IN_USE',
  /** SessionManager.store() of a driver that keeps sessions in cookies. */
  'SESSION_NO_STORE',
  /** A number or option out of range (timeouts, sizes, intervals). */
  'SESSION_OPTION_INVALID',
  /** database.dataSource of a type the database driver does not speak. */
  'SESSION_DATABASE_UNSUPPORTED',
  /** database.table is not a plain (schema.)table name. */
  'SESSION_DATABASE_TABLE_INVALID',
  /** The database driver is used without typeorm (or the database's client) installed. */
  'SESSION_DATABASE_TYPEORM_MISSING',
  /** database.dataSource was given before initialize(). */
  'SESSION_DATABASE_NOT_INITIALIZED',
  /** redis options that cannot work together or are malformed. */
  'SESSION_REDIS_INVALID',
  /** The redis driver is used without ioredis installed. */
  'SESSION_REDIS_MISSING',
  /** signIn({ policy }) or usePolicy() of a policy forRoot({ policies }) does not name. */
  'SESSION_POLICY_UNKNOWN',
  /** A sign-in past users.maxPerUser with onLimit 'reject' (409). */
  'SESSION_USER_LIMIT',
  /** SessionRegistry, or forRoot({ users }), on a driver that cannot keep the user index; the message names the fix. */
  'SESSION_USERS_UNSUPPORTED',
  /** The file driver's directory is not the app's user's alone (owner, mode, a link others may point elsewhere). */
  'SESSION_FILE_DIRECTORY_UNSAFE',
  /** fromExpressSessionStore() given something that is not an express-session store. */
  'SESSION_STORE_INVALID',
  /** migrateFrom options that cannot work (a missing secret or store, a cookie name taken twice). */
  'SESSION_MIGRATION_INVALID',
  /** Session or SessionManager.driver() used while no request is handled. */
  'SESSION_OUTSIDE_REQUEST',
  /** A bare `imports: [SessionModule]`, or req.flash(), where no SessionModule.forRoot() is visible. */
  'SESSION_MODULE_NOT_CONFIGURED',
  /** 500: the store answered, but is set up wrongly (a Cluster node given as one server, a wrong password); the message names the fix. */
  'SESSION_STORE_MISCONFIGURED',
  /** 503: the store could not be reached for this request. */
  'SESSION_STORE_UNAVAILABLE',
  /** 500: the session is over its size limit; nothing of it was kept. */
  'SESSION_TOO_LARGE',
  /** A change made where it can no longer be kept (after the response's head on the cookie driver, after the response); the message says why. */
  'SESSION_READ_ONLY',
  /** 500: a value changed in place through req.session cannot be kept as JSON; nothing of the request was kept. */
  'SESSION_VALUE_INVALID',
  /** 409: the session was retired (regenerated or destroyed) under this request; nothing of it was kept. */
  'SESSION_CONFLICT',
  /** nest-session/testing (mint, read, runInSession) called where NODE_ENV is 'production'. */
  'SESSION_TESTING_IN_PRODUCTION',
] as const;

export type SessionErrorCode = (typeof SESSION_ERROR_CODES)[number];

/**
 * The one base of nest-session's errors: a stable `code`, a message that says how to fix it, and an
 * HTTP status, so one thrown during a request answers as Nest answers any HttpException.
 */
export class SessionError extends HttpException {
  constructor(
    readonly code: SessionErrorCode,
    message: string,
    status: number = HttpStatus.INTERNAL_SERVER_ERROR,
    cause?: unknown,
  ) {
    super(
      { statusCode: status, code, message: `${code}: ${message}` },
      status,
      cause === undefined ? undefined : { cause },
    );
    this.name = new.target.name;
  }
}

/** A configuration mistake, found at start-up wherever it can be. The message says what to set. */
export class SessionConfigError extends SessionError {
  constructor(
    code: SessionErrorCode,
    message: string,
    status: number = HttpStatus.INTERNAL_SERVER_ERROR,
    cause?: unknown,
  ) {
    super(code, message, status, cause);
  }
}

/**
 * A store answered a request's call, but is set up wrongly (a wrong password, a Cluster node given as
 * one server): a 500 for that request, logged once, whose message names the fix.
 */
export class SessionStoreMisconfiguredError extends SessionConfigError {
  constructor(driver: string, fix: string, cause?: unknown) {
    super(
      'SESSION_STORE_MISCONFIGURED',
      `the '${driver}' session store is misconfigured: ${fix}`,
      HttpStatus.INTERNAL_SERVER_ERROR,
      cause,
    );
  }
}

/** `Session` or `SessionManager.driver()` used where no request is being handled. */
export class SessionOutsideRequestError extends SessionError {
  constructor() {
    super(
      'SESSION_OUTSIDE_REQUEST',
      'the session is only available while a request is handled ' +
        '(controllers, guards, interceptors, pipes, filters and what they call). ' +
        'Outside a request, use SessionManager.store() for admin work.',
    );
  }
}

/** The store could not be reached: a 503 for this request; the app keeps serving the rest. */
export class SessionStoreUnavailableError extends SessionError {
  constructor(driver: string, cause?: unknown) {
    super(
      'SESSION_STORE_UNAVAILABLE',
      `the '${driver}' session store cannot be reached; try again shortly`,
      HttpStatus.SERVICE_UNAVAILABLE,
      cause,
    );
  }
}

/** The session would pass its size limit: a 500 that says how to fix it. */
export class SessionTooLargeError extends SessionError {
  constructor(
    readonly size: number,
    readonly limit: number,
    what = 'session cookie',
    fix = 'keep less in the session or use a server-side driver (memory, database, redis)',
  ) {
    super('SESSION_TOO_LARGE', `the ${what} would be ${size} bytes, over the ${limit}-byte limit; ${fix}`);
  }

  /** A server-side session over `maxSize`. */
  static inStore(size: number, limit: number): SessionTooLargeError {
    return new SessionTooLargeError(
      size,
      limit,
      'session',
      'keep less in the session or raise SessionModule.forRoot({ maxSize })',
    );
  }
}

/** The session was retired (regenerate() or destroy()) by another request: this request's changes were not kept. */
export class SessionConflictError extends SessionError {
  constructor(driver: string) {
    super(
      'SESSION_CONFLICT',
      `the '${driver}' session was regenerated or destroyed by another request; nothing of this request was kept, try again`,
      HttpStatus.CONFLICT,
    );
  }
}

/**
 * A change made where it can no longer be kept: on the cookie driver after the response's head (the
 * cookie is already sent), or once the response has been sent. Thrown at the call, never silently
 * dropped; the message says why.
 */
export class SessionReadOnlyError extends SessionError {
  constructor(why: string) {
    super('SESSION_READ_ONLY', `this session can no longer be changed: ${why}`);
  }
}

/** A sign-in past `users.maxPerUser` with `onLimit: 'reject'`: a 409, and nothing of it was kept. */
export class SessionUserLimitError extends SessionError {
  constructor(max: number) {
    super(
      'SESSION_USER_LIMIT',
      `this user already has ${max} session${max === 1 ? '' : 's'}, the most users.maxPerUser allows: sign one out first`,
      HttpStatus.CONFLICT,
    );
  }
}

/** The message of anything thrown. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
