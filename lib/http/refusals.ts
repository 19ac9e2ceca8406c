// Why a session can take no change at some point of its request (SessionBags.committed's reason).

/** A session first used after the response's head. */
export const AFTER_HEAD =
  "the response's head was sent before this session was used, so no session cookie reached the client";
/** Once the commit was refused (the response is its error). */
export const REFUSED = 'the response became an error: this session could not be kept';
/** Once the response has ended. */
export const AFTER_RESPONSE = 'the response has been sent';
