import { Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { SessionModule } from 'nest-session';
import { AuthController } from './auth.controller.js';
import { DevicesController } from './devices.controller.js';
import { PagesController } from './pages.controller.js';
import { PreferencesService } from './preferences.service.js';
import { sessionOptions } from './session.config.js';
import { SignedInGuard, SignInRequiredFilter } from './signed-in.guard.js';
import { UsersService } from './users.service.js';

@Module({
  imports: [SessionModule.forRoot(sessionOptions())],
  controllers: [PagesController, AuthController, DevicesController],
  providers: [
    UsersService,
    PreferencesService,
    SignedInGuard,
    { provide: APP_FILTER, useClass: SignInRequiredFilter },
  ],
})
export class AppModule {}
