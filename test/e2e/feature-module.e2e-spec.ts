import { afterEach, describe, expect, it } from '@jest/globals';
import { Controller, Get, Injectable, Module, Post, type INestApplication } from '@nestjs/common';
import { Session, SessionManager, SessionModule } from 'nest-session';
import { agent, createApp, platforms } from '../support/app.js';
import { SECRET } from '../support/session-app.js';

/** A feature module as the NestJS docs write one: it imports the module it uses, as it is. */
@Injectable()
class CartService {
  constructor(private readonly session: Session) {}
  add(item: string): string[] {
    const items = [...(this.session.get('cart', []) as string[]), item];
    this.session.set('cart', items);
    return items;
  }
}

@Controller('cart')
class CartController {
  constructor(
    private readonly cart: CartService,
    private readonly sessions: SessionManager,
  ) {}
  @Post('pen')
  add() {
    return this.cart.add('pen');
  }
  @Get()
  list() {
    return { cart: this.sessions.driver().get('cart', []) };
  }
}

@Module({ imports: [SessionModule], controllers: [CartController], providers: [CartService] })
class CartModule {}

/** forRoot() in a module of its own, imported by the root module after the feature module. */
@Module({ imports: [SessionModule.forRoot({ secret: SECRET })] })
class CoreModule {}

const NOT_CONFIGURED =
  /SESSION_MODULE_NOT_CONFIGURED: .*SessionModule.forRoot\(\) .*in the root module.*then import SessionModule as it is/;

describe.each(platforms)('imports: [SessionModule] in a feature module, on %s', (platform) => {
  let apps: INestApplication[] = [];
  afterEach(async () => {
    await Promise.all(apps.map((app) => app.close()));
    apps = [];
  });
  const start = async (module: Parameters<typeof createApp>[1]) => {
    const app = await createApp(platform, module);
    apps.push(app);
    return app;
  };

  it('uses the session forRoot() configured in the root module', async () => {
    @Module({ imports: [SessionModule.forRoot({ secret: SECRET }), CartModule] })
    class AppModule {}
    const app = await start(AppModule);
    const a = agent(app);
    await a.post('/cart/pen').expect(201, ['pen']);
    await a.post('/cart/pen').expect(201, ['pen', 'pen']);
    await a.get('/cart').expect(200, { cart: ['pen', 'pen'] });
  });

  it('uses the session forRoot() configured anywhere, whatever the order of the imports', async () => {
    @Module({ imports: [CartModule, CoreModule] })
    class AppModule {}
    const app = await start(AppModule);
    const a = agent(app);
    await a.post('/cart/pen').expect(201, ['pen']);
    await a.get('/cart').expect(200, { cart: ['pen'] });
  });

  it('uses the session of forRootAsync() too', async () => {
    @Module({
      imports: [CartModule, SessionModule.forRootAsync({ useFactory: () => ({ secret: SECRET }) })],
    })
    class AppModule {}
    const app = await start(AppModule);
    await agent(app).post('/cart/pen').expect(201, ['pen']);
  });

  it('stops start-up without forRoot(), saying to call it in the root module', async () => {
    @Module({ imports: [CartModule] })
    class AppModule {}
    await expect(createApp(platform, AppModule)).rejects.toThrow(NOT_CONFIGURED);
  });

  it('stops start-up when the only forRoot() is not global, saying so', async () => {
    @Module({ imports: [SessionModule.forRoot({ secret: SECRET, isGlobal: false })] })
    class LocalSessionModule {}
    @Module({ imports: [LocalSessionModule, CartModule] })
    class AppModule {}
    await expect(createApp(platform, AppModule)).rejects.toThrow(/isGlobal: false/);
  });
});
