import { HttpException, HttpStatus, ServiceUnavailableException } from '@nestjs/common';

/** A configuration mistake found at start-up. The message says what to set; `code` is stable. */
export class SessionConfigError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(`${code}: ${message}`);
    this.name = 'SessionConfigError';
  }
}

/** `Session` or `SessionManager.driver()` used where no request is being handled. */
export class SessionOutsideRequestError extends Error {
  readonly code = 'SESSION_OUTSIDE_REQUEST';
  constructor() {
    super(
      'SESSION_OUTSIDE_REQUEST: the session is only available while a request is handled ' +
        '(controllers, guards, interceptors, pipes, filters and what they call). ' +
        'Outside a request, use SessionManager.store() for admin work.',
    );
    this.name = 'SessionOutsideRequestError';
  }
}

/** The store could not be reached: a 503 for this request; the app keeps serving the rest. */
export class SessionStoreUnavailableError extends ServiceUnavailableException {
  readonly code = 'SESSION_STORE_UNAVAILABLE';
  constructor(driver: string, cause?: unknown) {
    super(`SESSION_STORE_UNAVAILABLE: the '${driver}' session store cannot be reached; try again shortly`, {
      cause,
    });
    this.name = 'SessionStoreUnavailableError';
  }
}

/** The sealed cookie would pass the browser limit: a 500 that says how to fix it. */
export class SessionTooLargeError extends HttpException {
  readonly code = 'SESSION_TOO_LARGE';
  constructor(
    readonly size: number,
    readonly limit: number,
  ) {
    super(
      `SESSION_TOO_LARGE: the session cookie would be ${size} bytes, over the ${limit}-byte limit; ` +
        'keep less in the session or use a server-side driver (memory, database, redis)',
      HttpStatus.INTERNAL_SERVER_ERROR,
    );
    this.name = 'SessionTooLargeError';
  }
}
