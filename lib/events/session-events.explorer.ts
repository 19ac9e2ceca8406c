/**
 * Start-up wiring of SessionEvents, as @nestjs/event-emitter wires `@OnEvent()`: every provider and
 * controller method marked `@OnSessionEvent()` is subscribed, and when the app has EventEmitterModule
 * every event is forwarded to its EventEmitter2 as 'session.<name>'. @nestjs/event-emitter is never a
 * dependency: it is imported by name only at start-up, and its EventEmitter2 looked up in the
 * container by that class, or, when the package cannot be imported from here (another copy of it),
 * found among the providers by its shape.
 */
import { Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { DiscoveryService, MetadataScanner, ModuleRef } from '@nestjs/core';
import type { InstanceWrapper } from '@nestjs/core/injector/instance-wrapper.js';
import { SESSION_EVENT_LISTENER } from './on-session-event.decorator.js';
import type { SessionEventName } from './session-event.js';
import { SessionEvents, type ForwardTarget } from './session-events.js';

/** Imported by name only, so bundlers and type checks never require it. */
const EVENT_EMITTER_PACKAGE = '@nestjs/event-emitter';

@Injectable()
export class SessionEventsExplorer implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly subscriptions: Array<() => void> = [];
  private readonly logger = new Logger('SessionEvents');

  constructor(
    private readonly events: SessionEvents,
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly moduleRef: ModuleRef,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const wrappers = [...this.discovery.getProviders(), ...this.discovery.getControllers()];
    for (const wrapper of wrappers) this.subscribe(wrapper);
    this.events.forwardTo(await this.eventEmitter(wrappers));
  }

  onApplicationShutdown(): void {
    for (const unsubscribe of this.subscriptions.splice(0)) unsubscribe();
    this.events.forwardTo(undefined);
  }

  private subscribe(wrapper: InstanceWrapper): void {
    const instance = wrapper.instance as Record<string, unknown> | undefined;
    if (wrapper.isAlias || instance === undefined || instance === null || typeof instance !== 'object')
      return;
    const prototype = Object.getPrototypeOf(instance) as object | null;
    if (prototype === null) return;
    for (const key of this.scanner.getAllMethodNames(prototype)) {
      const method = instance[key];
      if (typeof method !== 'function') continue;
      const names = Reflect.getMetadata(SESSION_EVENT_LISTENER, method) as SessionEventName[] | undefined;
      if (names === undefined) continue;
      if (!wrapper.isDependencyTreeStatic()) {
        this.logger.warn(
          `@OnSessionEvent() on ${wrapper.name}.${key} is ignored: the provider is request-scoped, and events come after their request`,
        );
        continue;
      }
      this.subscriptions.push(this.events.on(names, (event) => method.call(instance, event)));
    }
  }

  /** The app's EventEmitter2, if it has EventEmitterModule. */
  private async eventEmitter(wrappers: InstanceWrapper[]): Promise<ForwardTarget | undefined> {
    const loaded = (await import(EVENT_EMITTER_PACKAGE).catch(() => undefined)) as
      { EventEmitter2?: abstract new (...args: never[]) => unknown } | undefined;
    if (loaded?.EventEmitter2 !== undefined) {
      try {
        const found: unknown = this.moduleRef.get(loaded.EventEmitter2, { strict: false });
        if (isEventEmitter2(found)) return found;
      } catch {
        // Not in this app's container: look for another copy below.
      }
    }
    return wrappers.map((wrapper) => wrapper.instance as unknown).find(isEventEmitter2);
  }
}

/** EventEmitter2's shape (emitAsync and onAny are its own; Node's EventEmitter has neither). */
function isEventEmitter2(value: unknown): value is ForwardTarget {
  const emitter = value as { emitAsync?: unknown; onAny?: unknown } | null | undefined;
  return typeof emitter?.emitAsync === 'function' && typeof emitter.onAny === 'function';
}
