import { Body, Controller, Get, Post, Redirect, Render } from '@nestjs/common';
import { Flash, Session } from 'nest-session';
import { PreferencesService } from './preferences.service.js';
import { DEMO_USER, UsersService } from './users.service.js';

interface LoginForm {
  username?: string;
  password?: string;
  remember?: string;
}

@Controller()
export class AuthController {
  constructor(
    private readonly session: Session,
    private readonly users: UsersService,
    private readonly preferences: PreferencesService,
  ) {}

  @Get('login')
  @Render('login')
  form(@Flash('old') old?: { username?: string }) {
    return { page: 'login', username: old?.username ?? '', demo: DEMO_USER };
  }

  /** Post/Redirect/Get: flash messages survive the 303 and show on the page it leads to. */
  @Post('login')
  @Redirect('/dashboard', 303)
  login(@Body() form: LoginForm) {
    const user = this.users.verify(form.username, form.password);
    if (user === undefined) {
      this.session.flash('danger', this.preferences.t('login.failed'));
      this.session.flash('old', { username: String(form.username ?? '') });
      return { url: '/login' };
    }
    // signIn(): a new session id (the old one retired: no session fixation), bound to the user so
    // "Your devices" lists it; data is kept, so the language and theme picked before signing in stay.
    // "Keep me signed in" follows the 'remember' policy: 90 days instead of the default's 2 hours idle.
    this.session.signIn(user.id, { policy: form.remember === 'on' ? 'remember' : undefined });
    this.session.set('user', { ...user, signedInAt: new Date().toISOString() });
    this.session.flash('success', this.preferences.t('auth.welcome', { name: user.name }));
    return undefined;
  }

  /**
   * destroy() deletes the session's record and its id; whatever is set or flashed after it in the
   * same request goes to a fresh session, so the "signed out" message reaches the next page.
   */
  @Post('logout')
  @Redirect('/login', 303)
  logout() {
    // With SESSION_DRIVER=cookie, the 'cookie' driver is this very session: keep the remembered theme.
    const remembered = this.preferences.rememberedTheme;
    this.session.signOut();
    this.preferences.remember(remembered);
    this.session.flash('success', this.preferences.t('auth.signedOut'));
  }
}
