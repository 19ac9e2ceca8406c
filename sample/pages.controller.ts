import { Body, Controller, Get, Post, Redirect, Render, UseGuards } from '@nestjs/common';
import { Session } from 'nest-session';
import { isLanguage, LANGUAGES } from './i18n.js';
import { PreferencesService } from './preferences.service.js';
import { isTheme, THEMES } from './session-data.js';
import { SignedInGuard } from './signed-in.guard.js';

interface PreferencesForm {
  language?: string;
  theme?: string;
  remember?: string;
}

@Controller()
export class PagesController {
  constructor(
    private readonly session: Session,
    private readonly preferences: PreferencesService,
  ) {}

  @Get()
  @Render('home')
  home() {
    return { page: 'home' };
  }

  @Get('dashboard')
  @UseGuards(SignedInGuard)
  @Render('dashboard')
  dashboard() {
    const data = Object.entries(this.session.all()).map(([key, value]) => ({
      key,
      value: JSON.stringify(value),
    }));
    return { page: 'dashboard', user: this.session.get('user'), data };
  }

  @Get('preferences')
  @Render('preferences')
  preferencesForm() {
    return {
      page: 'preferences',
      languages: LANGUAGES,
      themes: THEMES,
      language: this.preferences.language,
      theme: this.preferences.theme,
      remembered: this.preferences.rememberedTheme !== undefined,
    };
  }

  @Post('preferences')
  @Redirect('/preferences', 303)
  savePreferences(@Body() form: PreferencesForm) {
    if (!isLanguage(form.language) || !isTheme(form.theme)) {
      this.session.flash('danger', this.preferences.t('prefs.invalid'));
      return;
    }
    this.preferences.save(form.language, form.theme, form.remember === 'on');
    this.session.flash('success', this.preferences.t('prefs.saved'));
  }
}
