import type { FlashConsumption } from './session-bags.js';

/**
 * The flash rule: a response whose final status is 2xx consumes the flash its request saw, unless
 * the route keeps flash. Every GraphQL response is a 200, so a GraphQL request consumes only the
 * flash it read, never what it flashed: a mutation's flash reaches the next operation that reads it.
 */
export function clearsFlash(status: number, keepsFlash: boolean, graphql = false): FlashConsumption {
  if (status < 200 || status >= 300 || keepsFlash) return false;
  return graphql ? 'read' : true;
}
