import { Injectable } from '@nestjs/common';
import { Session, SessionManager } from 'nest-session';
import { isLanguage, translate, type Language, type MessageKey } from './i18n.js';
import { isTheme, type Theme } from './session-data.js';

/**
 * Language and theme, read from the current request's session (the injected Session is a view over
 * the request being handled, so this service stays a singleton). The remembered theme lives in the
 * 'cookie' driver, a second session kept in its own sealed cookie that signing out does not touch.
 */
@Injectable()
export class PreferencesService {
  constructor(
    private readonly session: Session,
    private readonly sessions: SessionManager,
  ) {}

  get language(): Language {
    const language = this.session.get('language');
    return isLanguage(language) ? language : 'en';
  }

  get theme(): Theme {
    const theme = this.session.get('theme');
    return isTheme(theme) ? theme : (this.rememberedTheme ?? 'light');
  }

  get rememberedTheme(): Theme | undefined {
    const theme = this.browser.get('rememberedTheme');
    return isTheme(theme) ? theme : undefined;
  }

  save(language: Language, theme: Theme, remember: boolean): void {
    this.session.set('language', language).set('theme', theme);
    this.remember(remember ? theme : undefined);
  }

  /** Keeps the theme in the cookie driver (or forgets it). */
  remember(theme: Theme | undefined): void {
    if (theme === undefined) this.browser.delete('rememberedTheme');
    else if (this.browser.get('rememberedTheme') !== theme) this.browser.set('rememberedTheme', theme);
  }

  t(key: MessageKey, params?: Record<string, string>): string {
    return translate(this.language, key, params);
  }

  private get browser(): Session {
    return this.sessions.driver('cookie');
  }
}
