/** Route metadata set by @KeepFlash(). */
export const KEEP_FLASH_METADATA = 'nest-session:keep-flash';
/** On Fastify with cookie.secure 'auto': whether the request is https, as Fastify (and its trustProxy) sees it. */
export const FASTIFY_HTTPS = Symbol('nest-session:https');
