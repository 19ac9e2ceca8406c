import {
  Body,
  Controller,
  Get,
  HttpCode,
  Injectable,
  Module,
  Param,
  Post,
  UseGuards,
  type CanActivate,
  type DynamicModule,
  type INestApplication,
  type Type,
} from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { WsAdapter } from '@nestjs/platform-ws';
import {
  ConnectedSocket,
  MessageBody,
  SubscribeMessage,
  WebSocketGateway,
  type OnGatewayConnection,
  type OnGatewayDisconnect,
} from '@nestjs/websockets';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { from, map } from 'rxjs';
import {
  Session,
  SessionManager,
  SessionModule,
  SessionRegistry,
  type SessionModuleOptions,
} from 'nest-session';
import type { Platform } from './app.js';
import { FeatureModule } from './session-app.js';

export type SocketLibrary = 'socket.io' | 'ws';
export const socketLibraries: SocketLibrary[] = ['socket.io', 'ws'];

/** A socket as either library gives it to a gateway. */
type Client = {
  request?: IncomingMessage;
  /** A ws socket's (socket.io's has none). */
  readyState?: number;
  emit(event: string, data: unknown): unknown;
  send(data: string): void;
};

/** Sends an event the way each library does (a ws message is `{ event, data }`, as Nest's WsAdapter sends). */
function send(client: Client, event: string, data: unknown): void {
  if (typeof client.readyState === 'number') client.send(JSON.stringify({ event, data }));
  else client.emit(event, data);
}

/** A change refused over a socket answers its error's code instead of throwing. */
function attempt(change: () => unknown): string {
  try {
    change();
    return 'ok';
  } catch (error) {
    return (error as { code?: string }).code ?? (error as Error).name;
  }
}

@Injectable()
class SignedInGuard implements CanActivate {
  constructor(private readonly session: Session) {}
  canActivate(): boolean {
    return this.session.userId !== undefined;
  }
}

/** Signing in and out over HTTP, and the registry. */
@Controller('auth')
class AuthController {
  constructor(
    private readonly session: Session,
    private readonly registry: SessionRegistry,
  ) {}

  @Post('sign-in/:id')
  @HttpCode(200)
  signIn(@Param('id') id: string) {
    this.session.signIn(id);
    return { handle: this.session.handle };
  }

  @Post('sign-out')
  @HttpCode(200)
  signOut() {
    this.session.signOut();
    return { ok: true };
  }

  @Post('set')
  @HttpCode(200)
  set(@Body() body: Record<string, unknown>) {
    for (const [key, value] of Object.entries(body)) this.session.set(key, value);
    return { ok: true };
  }

  @Get('me')
  me() {
    return { userId: this.session.userId ?? null, data: this.session.all() };
  }

  @Post('revoke-all/:id')
  @HttpCode(200)
  async revokeAll(@Param('id') id: string) {
    return { revoked: await this.registry.revokeAll(id) };
  }
}

/** The probes of the sockets suites: a gateway as the NestJS docs write one, for socket.io and ws alike. */
@WebSocketGateway()
export class ProbeGateway implements OnGatewayConnection, OnGatewayDisconnect {
  /** ws gives the upgrade request to handleConnection only: kept here for the message handlers. */
  private readonly requests = new WeakMap<object, IncomingMessage>();

  constructor(
    private readonly session: Session,
    private readonly sessions: SessionManager,
    private readonly registry: SessionRegistry,
  ) {}

  private request(client: Client): IncomingMessage & { session?: any; sessionID?: string } {
    return (client.request ?? this.requests.get(client))!;
  }

  /** Told of the user each disconnected socket's session had (the e2e suite listens). */
  disconnected: ((userId: string | null) => void) | undefined;

  handleDisconnect() {
    this.disconnected?.(this.session.userId ?? null);
  }

  /** Greets with what the handshake brought; counts connections after an await. */
  async handleConnection(client: Client, request?: IncomingMessage) {
    if (request !== undefined) this.requests.set(client, request);
    const userId = this.session.userId ?? null;
    const fromRequest = this.request(client).session?.id === this.session.id;
    await Promise.resolve();
    const counted = attempt(() =>
      this.session.set('connections', (this.session.get('connections', 0) as number) + 1),
    );
    send(client, 'hello', { userId, fromRequest, counted });
  }

  @SubscribeMessage('whoami')
  whoami(@ConnectedSocket() client: Client) {
    const request = this.request(client);
    return {
      event: 'whoami',
      data: {
        userId: this.session.userId ?? null,
        fromRequest: request.session.theme ?? null,
        fromDriver: this.sessions.driver().userId ?? null,
        sessionID: request.sessionID === this.session.id,
        data: this.session.all(),
      },
    };
  }

  @SubscribeMessage('guarded')
  @UseGuards(SignedInGuard)
  guarded() {
    return { event: 'guarded', data: { userId: this.session.userId } };
  }

  /** Sets each key of the body after an await: committed once the handler's promise settles. */
  @SubscribeMessage('set')
  async set(@MessageBody() body: Record<string, unknown>) {
    await Promise.resolve();
    return {
      event: 'set',
      data: attempt(() => Object.entries(body).forEach(([k, v]) => this.session.set(k, v))),
    };
  }

  /** Through express-session's API on the request, a nested change included. */
  @SubscribeMessage('request-set')
  requestSet(@ConnectedSocket() client: Client, @MessageBody() body: { item: string }) {
    const session = this.request(client).session;
    session.cart ??= [];
    session.cart.push(body.item);
    return { event: 'request-set', data: session.cart };
  }

  /** An observable: each value goes out once what was set before it is kept. */
  @SubscribeMessage('observed')
  observed(@MessageBody() body: { keys: string[] }) {
    return from(body.keys).pipe(
      map((key) => {
        this.session.set(key, true);
        return { event: 'observed', data: key };
      }),
    );
  }

  @SubscribeMessage('change-id')
  changeId(@MessageBody() body: { how: 'regenerate' | 'signIn' | 'signOut' | 'destroy' }) {
    const change = {
      regenerate: () => this.session.regenerate(),
      signIn: () => this.session.signIn('someone'),
      signOut: () => this.session.signOut(),
      destroy: () => this.session.destroy(),
    }[body.how];
    return { event: 'change-id', data: attempt(change) };
  }

  /** Sets a key without catching: the error reaches Nest's exception filter. */
  @SubscribeMessage('set-unguarded')
  setUnguarded(@MessageBody() body: { key: string }) {
    this.session.set(body.key, true);
    return { event: 'set-unguarded', data: 'ok' };
  }

  /** Revokes the session the socket came with, from its own handler. */
  @SubscribeMessage('revoke-self')
  async revokeSelf() {
    return {
      event: 'revoke-self',
      data: await this.registry.revoke(this.session.userId!, this.session.handle),
    };
  }
}

@Module({ providers: [ProbeGateway, SignedInGuard], controllers: [AuthController] })
export class ProbeGatewayModule {}

/** The test app's routes, sign-in and the gateway, on a platform, listening with the library's adapter. */
export async function createSocketApp(
  platform: Platform,
  library: SocketLibrary,
  options: SessionModuleOptions,
  extra: Array<Type | DynamicModule> = [],
): Promise<{ app: INestApplication; url: string }> {
  @Module({
    imports: [SessionModule.forRoot(options), FeatureModule, ProbeGatewayModule, ...extra],
  })
  class SocketAppModule {}
  const ref = await Test.createTestingModule({ imports: [SocketAppModule] }).compile();
  const app =
    platform === 'express'
      ? ref.createNestApplication(new ExpressAdapter(), { logger: false })
      : ref.createNestApplication<NestFastifyApplication>(new FastifyAdapter(), { logger: false });
  if (library === 'ws') app.useWebSocketAdapter(new WsAdapter(app));
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  return { app, url: `http://127.0.0.1:${port}` };
}
