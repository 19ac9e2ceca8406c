import type { Express, Request, Response } from 'express';
import type { FastifyInstance, FastifyRequest } from 'fastify';

/** One request's session as the peers expose it, so every peer runs the same handlers. */
export interface Bag {
  get(key: string): unknown;
  set(key: string, value: unknown): void;
  keys(): string[];
}

type Handler = (bag: Bag, param: string) => unknown;

/**
 * The routes every session variant serves (the Nest app writes the same ones against the injected
 * Session): a counter kept in the session, a new session per request, a route that never touches
 * the session, one key written (lost updates), the data keys, and a blob of N bytes (growth).
 */
export const handlers: Record<string, Handler> = {
  counter(bag) {
    const counter = ((bag.get('counter') as number | undefined) ?? 0) + 1;
    bag.set('counter', counter);
    return { counter };
  },
  new(bag) {
    bag.set('visits', 1);
    return { created: true };
  },
  untouched: () => ({ ok: true }),
  write(bag, key) {
    bag.set(key, 1);
    return { ok: true };
  },
  keys: (bag) => ({ keys: bag.keys() }),
  seed(bag, bytes) {
    bag.set('blob', 'x'.repeat(Number(bytes)));
    return { ok: true };
  },
};

const paths: Record<string, string> = {
  counter: '/counter',
  new: '/new',
  untouched: '/untouched',
  write: '/write/:param',
  keys: '/keys',
  seed: '/seed/:param',
};

export function mountExpress(app: Express, bagOf: (req: Request) => Bag): void {
  for (const [name, handler] of Object.entries(handlers)) {
    app.get(paths[name], (req: Request, res: Response) => {
      const param = req.params.param;
      res.json(handler(bagOf(req), typeof param === 'string' ? param : ''));
    });
  }
}

export function mountFastify(app: FastifyInstance, bagOf: (req: FastifyRequest) => Bag): void {
  for (const [name, handler] of Object.entries(handlers)) {
    app.get(paths[name], async (req) => handler(bagOf(req), (req.params as { param?: string }).param ?? ''));
  }
}

/** A plain object used as the session (express-session, cookie-session): data are its own keys. */
export function objectBag(session: object, own: string[]): Bag {
  const data = session as Record<string, unknown>;
  return {
    get: (key) => data[key],
    set: (key, value) => void (data[key] = value),
    keys: () => Object.keys(data).filter((key) => !own.includes(key)),
  };
}
