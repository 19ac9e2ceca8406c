/** What the adapters' glue tells the lifecycle about its request objects. */

/** Marks a request prototype whose `session` is an accessor (Express's `app.request`). */
export const SESSION_ACCESSOR = Symbol('nest-session:request');

/** How the adapter's glue reads what the lifecycle needs of its request object (no closure per request). */
export interface ClientView<C> {
  /** Whether the request came over https, as the app trusts proxies (cookie.secure 'auto'). */
  secure(client: C): boolean;
  /** The client's address, as the app trusts proxies (device data at sign-in). */
  ip(client: C): string | undefined;
}
