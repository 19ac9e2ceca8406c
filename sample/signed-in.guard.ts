import {
  Catch,
  HttpException,
  HttpStatus,
  Injectable,
  type ArgumentsHost,
  type CanActivate,
  type ExceptionFilter,
} from '@nestjs/common';
import type { Response } from 'express';
import { Session } from 'nest-session';
import { PreferencesService } from './preferences.service.js';

export class SignInRequiredException extends HttpException {
  constructor() {
    super('Sign in required', HttpStatus.UNAUTHORIZED);
  }
}

/**
 * Lets signed-in visitors through. Others get a flash message and a redirect to the sign-in form:
 * the session is loaded before guards run, and a redirect (3xx) keeps the flash for the next page.
 */
@Injectable()
export class SignedInGuard implements CanActivate {
  constructor(
    private readonly session: Session,
    private readonly preferences: PreferencesService,
  ) {}

  canActivate(): boolean {
    if (this.session.has('user')) return true;
    this.session.flash('warning', this.preferences.t('auth.required'));
    throw new SignInRequiredException();
  }
}

@Catch(SignInRequiredException)
export class SignInRequiredFilter implements ExceptionFilter {
  catch(_exception: SignInRequiredException, host: ArgumentsHost): void {
    host.switchToHttp().getResponse<Response>().redirect('/login');
  }
}
