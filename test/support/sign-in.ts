import { Body, Controller, Get, HttpCode, Module, Post } from '@nestjs/common';
import { Session } from 'nest-session';

/** Sign-in as apps do it: a new session id (regenerate()) for the signed-in user. */
@Controller()
class SignInController {
  constructor(private readonly session: Session) {}

  @Post('sign-in')
  @HttpCode(200)
  signIn(@Body() body: { userId: unknown }) {
    this.session.regenerate();
    this.session.set('userId', body.userId);
    return { id: this.session.id };
  }

  @Get('whoami')
  whoami() {
    return { userId: this.session.get('userId', null) };
  }
}

/** Adds POST /sign-in { userId } and GET /whoami to the test app: sessionApp(options, [SignInModule]). */
@Module({ controllers: [SignInController] })
export class SignInModule {}
