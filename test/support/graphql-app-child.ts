// The README's GraphQL app in a process of its own (graphql.e2e-spec.ts starts it with
// ScriptProcess): its AppModule (argv[2]) with the probes below, on Express with Apollo or on Fastify
// with Mercurius (argv[3]). Mercurius runs here rather than in Jest, which on Node 20 cannot
// require() the ES modules it loads.
import 'reflect-metadata';
import { Controller, Get, Module, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Args, Field, Mutation, ObjectType, Parent, Query, ResolveField, Resolver } from '@nestjs/graphql';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Session } from 'nest-session';
import { pathToFileURL } from 'node:url';

@ObjectType()
class Probe {
  @Field() id!: string;
}

/** What the tests ask beyond the README's resolver. */
@Resolver(() => Probe)
class ProbeResolver {
  constructor(private readonly session: Session) {}

  /** Reads session data, no flash. */
  @Query(() => String, { nullable: true })
  whoami(): string | null {
    const user: unknown = this.session.all().user;
    return typeof user === 'string' ? user : null;
  }

  /** Sets a value; its fields are resolved after, by field resolvers. */
  @Mutation(() => Probe)
  probe(@Args('value') value: string): Probe {
    this.session.set('probe', value);
    return { id: this.session.id };
  }

  @ResolveField(() => String, { nullable: true })
  value(): string | null {
    return (this.session.get('probe') as string | undefined) ?? null;
  }

  @ResolveField(() => Boolean)
  sameSession(@Parent() probe: Probe): boolean {
    return probe.id === this.session.id;
  }
}

/** An HTTP route of the same app: HTTP's flash rule. */
@Controller()
class FlashesController {
  constructor(private readonly session: Session) {}

  @Get('flashes')
  flashes() {
    return this.session.flashes();
  }
}

@Module({ providers: [ProbeResolver], controllers: [FlashesController] })
class ProbeModule {}

const [file, platform] = process.argv.slice(2);
const { AppModule } = (await import(pathToFileURL(file).href)) as { AppModule: Type };

@Module({ imports: [AppModule, ProbeModule] })
class TestAppModule {}

const app = await NestFactory.create(
  TestAppModule,
  platform === 'fastify' ? new FastifyAdapter() : new ExpressAdapter(),
  { logger: ['error'] },
);
await app.listen(0, '127.0.0.1');
