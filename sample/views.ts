import type { NestExpressApplication } from '@nestjs/platform-express';
import { Session } from 'nest-session';
import nunjucks from 'nunjucks';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LANGUAGES, type MessageKey } from './i18n.js';
import { PreferencesService } from './preferences.service.js';
import { THEMES } from './session-data.js';

/** sample/, whether this file runs from sample/ or compiled into dist-sample/. */
const sampleDir = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'sample');

/**
 * Nunjucks views with Masonite's template helper: `session()` is the library's Session, a view over
 * the request being rendered (AsyncLocalStorage), so `{{ session().get('success') }}` works in every
 * template and include without passing anything from the handlers.
 */
export function setUpViews(app: NestExpressApplication, driver: string): void {
  const env = nunjucks.configure(join(sampleDir, 'views'), {
    autoescape: true,
    express: app.getHttpAdapter().getInstance(),
    noCache: process.env.NODE_ENV !== 'production',
  });
  app.setViewEngine('html');
  app.useStaticAssets(join(sampleDir, 'public'));

  const session = app.get(Session);
  const preferences = app.get(PreferencesService);
  env.addGlobal('session', () => session);
  env.addGlobal('preferences', () => ({ language: preferences.language, theme: preferences.theme }));
  env.addGlobal('t', (key: MessageKey, params?: Record<string, string>) => preferences.t(key, params));
  env.addGlobal('sessionDriver', driver);
  env.addGlobal('LANGUAGES', LANGUAGES);
  env.addGlobal('THEMES', THEMES);
}
