/**
 * GraphQL glue. Every GraphQL response is a 200, so the flash rule must tell GraphQL requests
 * apart (http/lifecycle.ts `clearsFlash`: a GraphQL request consumes only the flash it read).
 *
 * A request is a GraphQL one when its URL is the path a GraphQLModule serves, read once at
 * start-up, when every GraphQLModule has started its driver (Apollo, Mercurius): so the rule is
 * known before guards run, it holds for the injected `Session` as for `@Flash()`, and routes pay one
 * URL test in apps that serve GraphQL, none in the others. @nestjs/graphql is never imported: its
 * modules are found by the token of their options, so the library does not depend on it.
 */
import { Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { ModulesContainer } from '@nestjs/core';
import { SessionLifecycle } from '../http/lifecycle.js';

/** @nestjs/graphql's GRAPHQL_MODULE_OPTIONS: the token of each GraphQLModule's options. */
export const GRAPHQL_MODULE_OPTIONS = 'GqlModuleOptions';

/** What is read of a GraphQLModule's options: its path (with the global prefix once its driver completed them); Mercurius's route prefix. */
interface GraphqlOptions {
  path?: unknown;
  prefix?: unknown;
}

/** At start-up, tells the lifecycle which requests are GraphQL ones. */
@Injectable()
export class GraphqlEndpoints implements OnApplicationBootstrap {
  constructor(
    private readonly lifecycle: SessionLifecycle,
    private readonly modules: ModulesContainer,
  ) {}

  onApplicationBootstrap(): void {
    this.lifecycle.isGraphql = graphqlUrlTest(graphqlPaths(this.modules));
  }
}

/** The paths the app's GraphQLModules serve; none when it has no GraphQL. */
export function graphqlPaths(modules: ModulesContainer): string[] {
  const paths = new Set<string>();
  for (const module of modules.values()) {
    const given = module.providers.get(GRAPHQL_MODULE_OPTIONS);
    if (given === undefined) continue;
    const completed = (module.instance as { completeOptions?: GraphqlOptions }).completeOptions;
    const options = (completed ?? given.instance ?? {}) as GraphqlOptions;
    const path = typeof options.path === 'string' ? options.path : '/graphql';
    const prefix = typeof options.prefix === 'string' ? options.prefix : '';
    paths.add(`/${prefix}/${path}`.replace(/\/+/g, '/').replace(/(.)\/$/, '$1'));
  }
  return [...paths];
}

/**
 * A test of request URLs for these paths: the path, with a trailing slash or not, then a query
 * string or the end; in any case, as Express matches routes. Undefined when there is no path.
 */
export function graphqlUrlTest(paths: readonly string[]): ((url: string) => boolean) | undefined {
  if (paths.length === 0) return undefined;
  const escaped = paths.map((path) => (path === '/' ? '' : path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
  const pattern = new RegExp(`^(?:${escaped.join('|')})/?(?:\\?|$)`, 'i');
  return (url) => pattern.test(url);
}
