import { Controller, Get, Param, Post, Redirect, Render, UseGuards } from '@nestjs/common';
import { Session, SessionRegistry } from 'nest-session';
import { PreferencesService } from './preferences.service.js';
import { SignedInGuard } from './signed-in.guard.js';

/**
 * "Your devices": every session signed in to the account, from the registry, which names each by a
 * handle (never its id). Signing one out retires it: its next request is anonymous.
 */
@Controller('devices')
@UseGuards(SignedInGuard)
export class DevicesController {
  constructor(
    private readonly session: Session,
    private readonly registry: SessionRegistry,
    private readonly preferences: PreferencesService,
  ) {}

  @Get()
  @Render('devices')
  async list() {
    const when = (date: Date) =>
      date.toLocaleString(this.preferences.language, { dateStyle: 'medium', timeStyle: 'short' });
    const devices = await this.registry.list(this.session.userId!);
    return {
      page: 'devices',
      devices: devices.map((device) => ({
        ...device,
        browser: describe(device.userAgent) ?? this.preferences.t('devices.unknown'),
        signedIn: when(device.createdAt),
        lastSeen: when(device.lastSeenAt),
      })),
    };
  }

  @Post('sign-out-others')
  @Redirect('/devices', 303)
  async signOutOthers() {
    const count = await this.registry.revokeOthers();
    this.session.flash('success', this.preferences.t('devices.revokedOthers', { count: String(count) }));
  }

  @Post(':handle/sign-out')
  @Redirect('/devices', 303)
  async signOut(@Param('handle') handle: string) {
    if (await this.registry.revoke(this.session.userId!, handle)) {
      this.session.flash('success', this.preferences.t('devices.revoked'));
    }
  }
}

/** A short name for a User-Agent header: the browser and the system, as far as they are told. */
function describe(userAgent: string | undefined): string | undefined {
  if (userAgent === undefined) return undefined;
  const browser = /(Edg|Firefox|Chrome|Safari)\/[\d.]+/.exec(userAgent)?.[1]?.replace('Edg', 'Edge');
  const system = /(Windows|Mac OS X|Android|iPhone|Linux)/.exec(userAgent)?.[1]?.replace('Mac OS X', 'macOS');
  return [browser, system].filter(Boolean).join(' on ') || userAgent.slice(0, 60);
}
