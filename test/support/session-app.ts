import {
  BadRequestException,
  Body,
  Catch,
  Controller,
  Get,
  HttpCode,
  Injectable,
  Module,
  NotFoundException,
  Param,
  Post,
  Query,
  Redirect,
  Res,
  Session as NestSession,
  StreamableFile,
  UseFilters,
  UseGuards,
  type ArgumentsHost,
  type CanActivate,
  type DynamicModule,
  type Type,
  type ExceptionFilter,
} from '@nestjs/common';
import {
  Flash,
  KeepFlash,
  Session,
  SessionManager,
  SessionModule,
  SessionRegistry,
  type SessionModuleOptions,
} from 'nest-session';
import { Barrier } from './app.js';

export const barrier = new Barrier(1);
/** A second meeting point, for tests that act between a handler's load and its commit. */
export const gate = new Barrier(2);
export const counters = { controllers: 0, services: 0 };

/**
 * Holds handlers between their load and their commit, each under a tag, until the test lets them go
 * in the order it chooses: how a test makes requests overlap a regenerate() or destroy() for certain.
 */
export class Hold {
  private readonly waiting = new Map<string, () => void>();
  private watchers: { count: number; resolve: () => void }[] = [];

  arrive(tag: string): Promise<void> {
    return new Promise((resolve) => {
      this.waiting.set(tag, resolve);
      this.watchers = this.watchers.filter((w) =>
        w.count <= this.waiting.size ? (w.resolve(), false) : true,
      );
    });
  }

  /** Resolves once `count` handlers are held. */
  held(count: number): Promise<void> {
    if (this.waiting.size >= count) return Promise.resolve();
    return new Promise((resolve) => this.watchers.push({ count, resolve }));
  }

  /** Lets these held handlers go on (to their commit). */
  release(tags: readonly string[]): void {
    for (const tag of tags) {
      const resolve = this.waiting.get(tag);
      if (resolve === undefined) throw new Error(`no handler is held as '${tag}'`);
      this.waiting.delete(tag);
      resolve();
    }
  }

  reset(): void {
    this.waiting.clear();
    this.watchers = [];
  }
}
export const hold = new Hold();

/** A service that injects Session: it stays a singleton too. */
@Injectable()
export class CartService {
  constructor(private readonly session: Session) {
    counters.services++;
  }
  add(item: string): string[] {
    const items = [...((this.session.get('cart') as string[] | undefined) ?? []), item];
    this.session.set('cart', items);
    return items;
  }
}

@Injectable()
class SignedInGuard implements CanActivate {
  constructor(private readonly session: Session) {}
  canActivate(): boolean {
    return this.session.has('userId');
  }
}

/** Turns a 404 into a 200 page: the final status the commit must see is the filter's. */
@Catch(NotFoundException)
class NotFoundToOkFilter implements ExceptionFilter {
  catch(_e: NotFoundException, host: ArgumentsHost) {
    const res = host.switchToHttp().getResponse();
    if (typeof res.status === 'function' && typeof res.json === 'function')
      res.status(200).json({ fallback: true });
    else res.status(200).send({ fallback: true });
  }
}

@Controller()
export class SessionController {
  constructor(
    private readonly session: Session,
    private readonly sessions: SessionManager,
    private readonly cart: CartService,
    private readonly registry: SessionRegistry,
  ) {
    counters.controllers++;
  }

  /** Signs the session in as `user` (the data kept). */
  @Post('sign-in/:user')
  @HttpCode(200)
  signIn(@Param('user') user: string) {
    this.session.signIn(user);
    return { userId: this.session.userId };
  }

  /** Revokes every session of `user`, from outside their requests (an admin's action). */
  @Post('revoke-all/:user')
  @HttpCode(200)
  async revokeAll(@Param('user') user: string) {
    return { revoked: await this.registry.revokeAll(user) };
  }

  @Get('state')
  state() {
    return {
      id: this.session.id,
      isNew: this.session.isNew,
      data: this.session.all(),
      flash: this.session.flashes(),
    };
  }

  @Get('get/:key')
  get(@Param('key') key: string) {
    return { value: this.session.get(key, null), has: this.session.has(key) };
  }

  @Post('set')
  @HttpCode(200)
  set(@Body() body: Record<string, unknown>) {
    for (const [key, value] of Object.entries(body)) this.session.set(key, value);
    return this.session.all();
  }

  @Post('delete/:key')
  @HttpCode(200)
  delete(@Param('key') key: string) {
    return { deleted: this.session.delete(key) };
  }

  @Post('pull/:key')
  @HttpCode(200)
  pull(@Param('key') key: string) {
    return { value: this.session.pull(key) ?? null };
  }

  @Post('cart/:item')
  @HttpCode(200)
  addToCart(@Param('item') item: string) {
    return this.cart.add(item);
  }

  @Get('untouched')
  untouched() {
    return 'ok';
  }

  @Post('flash')
  @HttpCode(200)
  flash(@Body() body: Record<string, unknown>) {
    for (const [key, value] of Object.entries(body)) this.session.flash(key, value);
    return this.session.flashes();
  }

  @Post('flash-redirect')
  @Redirect('/state')
  flashRedirect(@Body() body: Record<string, unknown>) {
    for (const [key, value] of Object.entries(body)) this.session.flash(key, value);
  }

  @Post('flash-res-redirect')
  flashResRedirect(@Body() body: Record<string, unknown>, @Res() res: any) {
    for (const [key, value] of Object.entries(body)) this.session.flash(key, value);
    if (typeof res.code === 'function') res.redirect('/state', 303);
    else res.redirect(303, '/state');
  }

  @Post('flash-throw')
  flashThrow(@Body() body: Record<string, unknown>) {
    for (const [key, value] of Object.entries(body)) this.session.flash(key, value);
    throw new BadRequestException('invalid');
  }

  @Post('flash-stream')
  @HttpCode(200)
  flashStream(@Body() body: Record<string, unknown>) {
    for (const [key, value] of Object.entries(body)) this.session.flash(key, value);
    this.session.set('streamed', true);
    return new StreamableFile(Buffer.from('file body'));
  }

  @Post('flash-then-404')
  @UseFilters(NotFoundToOkFilter)
  flashThen404(@Body() body: Record<string, unknown>) {
    for (const [key, value] of Object.entries(body)) this.session.flash(key, value);
    throw new NotFoundException();
  }

  @Get('read-flash')
  readFlash(@Flash('success') success?: unknown, @Flash() all?: Record<string, unknown>) {
    return { success: success ?? null, all };
  }

  @Get('error-after-read')
  errorAfterRead(@Flash('success') success?: unknown) {
    throw new BadRequestException(String(success));
  }

  @Get('poll')
  @KeepFlash()
  poll() {
    return this.session.flashes();
  }

  @Get('reflash')
  reflash() {
    this.session.reflash();
    return this.session.flashes();
  }

  @Get('keep')
  keep(@Query('keys') keys = '') {
    this.session.keep(...keys.split(',').filter(Boolean));
    return this.session.flashes();
  }

  @Post('reset')
  @HttpCode(200)
  reset(@Query('flashOnly') flashOnly?: string) {
    this.session.reset({ flashOnly: flashOnly === 'true' });
    return { data: this.session.all(), flash: this.session.flashes() };
  }

  @Post('regenerate')
  @HttpCode(200)
  regenerate() {
    const before = this.session.id;
    this.session.regenerate();
    return { before, after: this.session.id };
  }

  @Post('destroy')
  @HttpCode(200)
  destroy() {
    this.session.destroy();
    return { ok: true };
  }

  @Post('logout')
  @Redirect('/state', 303)
  logout() {
    this.session.destroy();
    this.session.flash('info', 'signed out');
  }

  @Get('nest-session')
  nestSession(@NestSession() session: Session) {
    return { userId: session.get('userId') ?? null, injectedSeesSame: session.id === this.session.id };
  }

  @Post('own-cookie')
  @HttpCode(200)
  ownCookie(@Res({ passthrough: true }) res: any) {
    if (typeof res.code === 'function') res.header('set-cookie', 'app=1; Path=/');
    else res.cookie('app', '1');
    this.session.set('withOwnCookie', true);
    return { ok: true };
  }

  @Post('json/:kind')
  @HttpCode(200)
  json(@Param('kind') kind: string) {
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    const values: Record<string, unknown> = {
      function: () => 1,
      symbol: Symbol('s'),
      bigint: 10n,
      circular,
      map: new Map(),
      nested: { a: [1, { b: () => 2 }] },
      // What the stores' JSON.stringify/parse cannot take (they overflow the stack past ~4 000).
      deep: Array.from({ length: 5_000 }).reduce<unknown>((inner) => ({ inner }), 1),
      'tojson-undefined': { toJSON: () => undefined },
      'tojson-bigint': { toJSON: () => 10n },
    };
    try {
      this.session.set(kind, values[kind]);
      return { error: null };
    } catch (error) {
      return { error: (error as Error).name, message: (error as Error).message };
    }
  }

  @Post('concurrent/:key')
  @HttpCode(200)
  async concurrent(@Param('key') key: string) {
    this.session.has('warm');
    await barrier.arrive();
    this.session.set(key, true);
    return { ok: true };
  }

  @Post('gated/:key')
  @HttpCode(200)
  async gated(@Param('key') key: string) {
    this.session.has('warm');
    await barrier.arrive();
    await gate.arrive();
    this.session.set(key, true);
    return { ok: true };
  }

  /** Loads the session, waits at `hold` under the tag `set:<key>`, then sets the key. */
  @Post('held/set/:key')
  @HttpCode(200)
  async heldSet(@Param('key') key: string) {
    this.session.has('warm');
    await hold.arrive(`set:${key}`);
    this.session.set(key, true);
    return { ok: true };
  }

  @Post('held/delete/:key')
  @HttpCode(200)
  async heldDelete(@Param('key') key: string) {
    this.session.has('warm');
    await hold.arrive(`delete:${key}`);
    return { deleted: this.session.delete(key) };
  }

  /** A flash kept past its own 2xx (@KeepFlash), so the change it makes is a write to check. */
  @Post('held/flash/:key')
  @HttpCode(200)
  @KeepFlash()
  async heldFlash(@Param('key') key: string) {
    this.session.has('warm');
    await hold.arrive(`flash:${key}`);
    this.session.flash(key, true);
    return { ok: true };
  }

  @Post('held/regenerate')
  @HttpCode(200)
  async heldRegenerate() {
    const before = this.session.id;
    await hold.arrive('regenerate');
    this.session.regenerate();
    return { before, after: this.session.id };
  }

  @Post('held/destroy')
  @HttpCode(200)
  async heldDestroy() {
    this.session.has('warm');
    await hold.arrive('destroy');
    this.session.destroy();
    return { ok: true };
  }

  /**
   * Loads the session, lets `turns` turns of the event loop go by (other requests load and commit
   * meanwhile), then sets, deletes or flashes the key, or regenerates: how a browser's overlapping
   * requests meet on one session without a test choosing the order.
   */
  @Post('turns/:kind/:key')
  @HttpCode(200)
  @KeepFlash()
  async turns(@Param('kind') kind: string, @Param('key') key: string, @Query('turns') turns = '0') {
    this.session.has('warm');
    for (let i = Number(turns); i > 0; i--) await new Promise((resolve) => setImmediate(resolve));
    if (kind === 'set') this.session.set(key, true);
    else if (kind === 'delete') return { deleted: this.session.delete(key) };
    else if (kind === 'flash') this.session.flash(key, true);
    else if (kind === 'regenerate') this.session.regenerate();
    return { ok: true };
  }

  /** Keys that name Object.prototype's members, set (or flashed) as ordinary keys. */
  @Post('proto/:how')
  @HttpCode(200)
  proto(@Param('how') how: 'set' | 'flash') {
    const values: Array<[string, unknown]> = [
      ['__proto__', { isAdmin: true }],
      ['constructor', { prototype: { isAdmin: true } }],
      ['prototype', { isAdmin: true }],
      ['toString', 'text'],
      ['hasOwnProperty', 1],
    ];
    for (const [key, value] of values) {
      if (how === 'set') this.session.set(key, value);
      else this.session.flash(key, value);
    }
    return { isAdmin: this.session.get('isAdmin', null), has: this.session.has('isAdmin') };
  }

  /** regenerate(), then a value of `bytes` bytes: a regenerate() whose session is too large. */
  @Post('regenerate-big')
  @HttpCode(200)
  regenerateBig(@Query('bytes') bytes: string) {
    this.session.regenerate();
    this.session.set('big', 'x'.repeat(Number(bytes)));
    return { ok: true };
  }

  @Post('proto-flash-redirect')
  @Redirect('/state', 303)
  protoFlashRedirect() {
    this.proto('flash');
  }

  /** Sets `key` to a string of `bytes` bytes of UTF-8, built of `char` ('x' by default). */
  @Post('big/:key')
  @HttpCode(200)
  big(@Param('key') key: string, @Query('bytes') bytes: string, @Query('char') char = 'x') {
    this.session.set(key, char.repeat(Math.ceil(Number(bytes) / Buffer.byteLength(char))));
    return { ok: true };
  }

  @Get('guarded')
  @UseGuards(SignedInGuard)
  guarded() {
    return { userId: this.session.get('userId') };
  }

  @Post('driver/:name')
  @HttpCode(200)
  setOnDriver(@Param('name') name: string, @Body() body: Record<string, unknown>) {
    const session = this.sessions.driver(name);
    for (const [key, value] of Object.entries(body)) session.set(key, value);
    return session.all();
  }

  @Get('driver/:name')
  readDriver(@Param('name') name: string) {
    return { data: this.sessions.driver(name).all(), defaultData: this.session.all() };
  }
}

@Module({ controllers: [SessionController], providers: [CartService] })
export class FeatureModule {}

/** The test app: SessionModule with these options, and the controller above. */
export function sessionApp(options: SessionModuleOptions | string, extra: Array<Type | DynamicModule> = []) {
  @Module({ imports: [SessionModule.forRoot(options as SessionModuleOptions), FeatureModule, ...extra] })
  class AppModule {}
  return AppModule;
}

export const SECRET = 'a-test-secret-that-is-long-enough-0123456789';
