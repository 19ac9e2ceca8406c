import { describe, expect, it } from '@jest/globals';
import { ApolloDriver } from '@nestjs/apollo';
import { ModulesContainer } from '@nestjs/core';
import { GRAPHQL_MODULE_OPTIONS as GRAPHQL_OWN, GraphQLModule } from '@nestjs/graphql';
import { Test } from '@nestjs/testing';
import { GRAPHQL_MODULE_OPTIONS, graphqlPaths, graphqlUrlTest } from '../../../lib/realtime/graphql.js';

describe('the GraphQL endpoint, read at start-up', () => {
  it("finds GraphQLModule's options by @nestjs/graphql's own token", () => {
    expect(GRAPHQL_MODULE_OPTIONS).toBe(GRAPHQL_OWN);
  });

  it('reads the path of each GraphQLModule, normalised; none without one', async () => {
    const withGraphql = await Test.createTestingModule({
      imports: [GraphQLModule.forRoot({ driver: ApolloDriver, path: 'api//gql/' })],
    }).compile();
    expect(graphqlPaths(withGraphql.get(ModulesContainer))).toEqual(['/api/gql']);
    const without = await Test.createTestingModule({}).compile();
    expect(graphqlPaths(without.get(ModulesContainer))).toEqual([]);
  });
});

describe('graphqlUrlTest', () => {
  const test = graphqlUrlTest(['/graphql', '/api/v1.0/gql'])!;

  it.each([
    ['/graphql', true],
    ['/graphql?query=%7Bme%7D', true],
    ['/graphql/', true],
    ['/GraphQL', true],
    ['/api/v1.0/gql?x=1', true],
    ['/graphql2', false],
    ['/graphql/other', false],
    ['/graphiql', false],
    ['/api/v1x0/gql', false],
    ['/', false],
    ['/posts?next=/graphql', false],
  ])('%s: %s', (url, expected) => {
    expect(test(url)).toBe(expected);
  });

  it('is none when the app serves no GraphQL, and serves the root path when that is its path', () => {
    expect(graphqlUrlTest([])).toBeUndefined();
    const root = graphqlUrlTest(['/'])!;
    expect([root('/'), root('/?query=1'), root('/posts')]).toEqual([true, true, false]);
  });
});
