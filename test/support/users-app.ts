import {
  Body,
  Controller,
  Get,
  HttpCode,
  Module,
  Param,
  Post,
  Query,
  type DynamicModule,
  type Type,
} from '@nestjs/common';
import { Session, SessionModule, SessionRegistry, type SessionModuleOptions } from 'nest-session';
import { hold } from './session-app.js';

/** The routes the users suite drives: sign-in and out, the registry, policies, time left. */
@Controller('users')
export class UsersController {
  constructor(
    private readonly session: Session,
    private readonly registry: SessionRegistry,
  ) {}

  @Post('sign-in/:id')
  @HttpCode(200)
  signIn(@Param('id') id: string, @Query('policy') policy?: string, @Query('label') label?: string) {
    const before = this.session.isNew ? undefined : this.session.id;
    this.session.signIn(id, { policy, label });
    return { before, userId: this.session.userId, handle: this.session.handle, policy: this.session.policy };
  }

  @Post('sign-in-number/:n')
  @HttpCode(200)
  signInNumber(@Param('n') n: string) {
    this.session.signIn(Number(n));
    return { userId: this.session.userId };
  }

  @Post('sign-in-bad')
  @HttpCode(200)
  signInBad(@Body() body: { id: unknown }) {
    try {
      this.session.signIn(body.id as string);
      return { error: null };
    } catch (error) {
      return { error: (error as Error).name };
    }
  }

  @Post('sign-out')
  @HttpCode(200)
  signOut() {
    this.session.signOut();
    return { ok: true };
  }

  @Get('me')
  me() {
    return {
      userId: this.session.userId ?? null,
      handle: this.session.isNew ? null : this.session.handle,
      policy: this.session.policy ?? null,
      data: this.session.all(),
    };
  }

  @Post('set')
  @HttpCode(200)
  set(@Body() body: Record<string, unknown>) {
    for (const [key, value] of Object.entries(body)) this.session.set(key, value);
    return { ok: true };
  }

  /** Loads the session, waits at `hold` under 'users:set', then sets `late`. */
  @Post('held-set')
  @HttpCode(200)
  async heldSet() {
    this.session.has('warm');
    await hold.arrive('users:set');
    this.session.set('late', true);
    return { ok: true };
  }

  @Post('regenerate')
  @HttpCode(200)
  regenerate() {
    this.session.regenerate();
    return { handle: this.session.handle };
  }

  @Post('policy')
  @HttpCode(200)
  policy(@Query('name') name?: string) {
    this.session.usePolicy(name);
    return { policy: this.session.policy ?? null };
  }

  /** Uses no session. */
  @Get('untouched')
  untouched() {
    return 'ok';
  }

  @Get('time-left')
  timeLeft() {
    return this.session.timeLeft();
  }

  @Get('list/:id')
  list(@Param('id') id: string) {
    return this.registry.list(id);
  }

  @Get('count/:id')
  async count(@Param('id') id: string) {
    return { count: await this.registry.count(id) };
  }

  @Post('revoke/:id/:handle')
  @HttpCode(200)
  async revoke(@Param('id') id: string, @Param('handle') handle: string) {
    return { revoked: await this.registry.revoke(id, handle) };
  }

  @Post('revoke-others')
  @HttpCode(200)
  async revokeOthers() {
    return { revoked: await this.registry.revokeOthers() };
  }

  @Post('revoke-all/:id')
  @HttpCode(200)
  async revokeAll(@Param('id') id: string) {
    return { revoked: await this.registry.revokeAll(id) };
  }
}

@Module({ controllers: [UsersController] })
class UsersFeature {}

/** An app with SessionModule on these options and the users routes. */
export function usersApp(options: SessionModuleOptions, extra: Array<Type | DynamicModule> = []) {
  @Module({ imports: [SessionModule.forRoot(options), UsersFeature, ...extra] })
  class UsersAppModule {}
  return UsersAppModule;
}
