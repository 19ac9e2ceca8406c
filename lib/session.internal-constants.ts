/** Route metadata set by @KeepFlash(). */
export const KEEP_FLASH_METADATA = 'nest-session:keep-flash';
/** Where the request context is kept on the raw request (Express req, Fastify req.raw). */
export const REQUEST_CONTEXT = Symbol.for('nest-session:context');
