import {
  Body,
  Controller,
  Get,
  HttpCode,
  Injectable,
  Module,
  Post,
  type DynamicModule,
  type Type,
} from '@nestjs/common';
import {
  NoTouch,
  OnSessionEvent,
  Session,
  type PrunableSessionStore,
  SessionManager,
  type SessionEvent,
  type SessionEventMap,
  type SessionEventName,
  type SessionModuleOptions,
} from 'nest-session';
import { FeatureModule } from './session-app.js';
import { usersApp } from './users-app.js';

export const EVENT_NAMES: SessionEventName[] = [
  'created',
  'regenerated',
  'signedIn',
  'signedOut',
  'destroyed',
  'revoked',
  'expired',
  'conflict',
  'tooLarge',
  'store.down',
  'store.up',
];

/** A provider that hears every session event through @OnSessionEvent(). */
@Injectable()
export class EventRecorder {
  readonly events: SessionEvent[] = [];

  @OnSessionEvent(EVENT_NAMES)
  record(event: SessionEvent): void {
    this.events.push(event);
  }

  /** The events of one name, in order. */
  of<N extends SessionEventName>(name: N): Array<SessionEventMap[N]> {
    return this.events.filter((e): e is SessionEventMap[N] => e.name === name);
  }

  names(): SessionEventName[] {
    return this.events.map((e) => e.name);
  }

  clear(): void {
    this.events.length = 0;
  }
}

/** The routes of idle warnings: time left read with and without extending the session. */
@Controller('idle')
export class IdleController {
  constructor(private readonly session: Session) {}

  @Get('left')
  @NoTouch()
  left() {
    return { ...this.session.timeLeft(), isNew: this.session.isNew };
  }

  @Get('left-touching')
  leftTouching() {
    return { ...this.session.timeLeft(), isNew: this.session.isNew };
  }

  @Post('note')
  @HttpCode(200)
  @NoTouch()
  note(@Body('note') note: string) {
    this.session.set('note', note);
    return this.session.timeLeft();
  }

  @Get('flash')
  @NoTouch()
  flash() {
    return this.session.flashes();
  }
}

/** Every route of this controller is @NoTouch(). */
@Controller('quiet')
@NoTouch()
export class QuietController {
  constructor(private readonly session: Session) {}

  @Get('left')
  left() {
    return this.session.timeLeft();
  }
}

/** Admin work outside any session: a prune of the default store. */
@Controller('admin')
export class AdminController {
  constructor(private readonly sessions: SessionManager) {}

  @Post('prune')
  @HttpCode(200)
  async prune() {
    return { pruned: await (this.sessions.store() as PrunableSessionStore).prune() };
  }
}

@Module({ controllers: [IdleController, QuietController, AdminController], providers: [EventRecorder] })
export class EventsFeature {}

/** A clock the module reads (forRoot({ clock })), moved on by hand. */
export function manualClock(start = Date.now()) {
  let t = start;
  return { now: () => t, advance: (ms: number) => void (t += ms), start };
}

/**
 * An app with SessionModule on these options, the session routes (session-app.ts), the users routes
 * (users-app.ts), the idle routes and EventRecorder.
 */
export function eventsApp(options: SessionModuleOptions, extra: Array<Type | DynamicModule> = []) {
  return usersApp(options, [FeatureModule, EventsFeature, ...extra]);
}
