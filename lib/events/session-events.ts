import { Logger } from '@nestjs/common';
import { Observable } from 'rxjs';
import {
  SESSION_EVENT_NAMES,
  type SessionEvent,
  type SessionEventMap,
  type SessionEventName,
  type SessionEventSink,
} from './session-event.js';

type Handler = (event: SessionEvent) => unknown;

/** What events are forwarded to: @nestjs/event-emitter's EventEmitter2, found at start-up. */
export interface ForwardTarget {
  emitAsync(name: string, event: SessionEvent): unknown;
}

/**
 * What happened to sessions, reported after it was committed. Inject it anywhere; `on()` returns the
 * function that unsubscribes, `observe()` an Observable (an admin page's SSE stream). @OnSessionEvent()
 * subscribes provider methods at start-up, and every event also goes to EventEmitter2 (as
 * 'session.<name>') when the app imports EventEmitterModule.
 *
 * A handler runs once the response's store work is done, before the response is released; it is not
 * awaited. One that throws or rejects is logged and never changes the response. With no handler and
 * no EventEmitter2, `listening` is false and the library makes no event at all.
 */
export class SessionEvents implements SessionEventSink {
  private readonly handlers = new Map<SessionEventName, Handler[]>();
  private forward: ForwardTarget | undefined;
  private readonly logger = new Logger('SessionEvents');
  /** @internal Whether any event is wanted (a handler, or EventEmitter2). */
  listening = false;

  /** Calls `handler` with each event of these names; returns the function that unsubscribes it. */
  on<N extends SessionEventName>(
    names: N | readonly N[],
    handler: (event: SessionEventMap[N]) => unknown,
  ): () => void {
    const list = namesOf(names);
    for (const name of list)
      this.handlers.set(name, [...(this.handlers.get(name) ?? []), handler as Handler]);
    this.update();
    let subscribed = true;
    return () => {
      if (!subscribed) return;
      subscribed = false;
      for (const name of list) {
        const left = (this.handlers.get(name) ?? []).filter((h) => h !== handler);
        if (left.length === 0) this.handlers.delete(name);
        else this.handlers.set(name, left);
      }
      this.update();
    };
  }

  /** Calls `handler` with the next event of these names only. */
  once<N extends SessionEventName>(
    names: N | readonly N[],
    handler: (event: SessionEventMap[N]) => unknown,
  ): () => void {
    const off = this.on(names, (event) => {
      off();
      return handler(event);
    });
    return off;
  }

  /** The events of these names (every event when none is given), while subscribed. */
  observe<N extends SessionEventName = SessionEventName>(
    names: N | readonly N[] = SESSION_EVENT_NAMES as readonly N[],
  ): Observable<SessionEventMap[N]> {
    return new Observable((subscriber) => this.on(names, (event) => subscriber.next(event)));
  }

  /** @internal SessionEventSink: calls the handlers, each guarded, then forwards. */
  emit(event: SessionEvent): void {
    const handlers = this.handlers.get(event.name);
    if (handlers !== undefined) for (const handler of handlers) this.call(handler, event);
    if (this.forward !== undefined) this.call(this.forwarder, event);
  }

  /** @internal Found at start-up (session-events.explorer.ts). */
  forwardTo(target: ForwardTarget | undefined): void {
    this.forward = target;
    this.update();
  }

  private readonly forwarder = (event: SessionEvent): unknown =>
    this.forward?.emitAsync(`session.${event.name}`, event);

  private call(handler: Handler, event: SessionEvent): void {
    try {
      const result = handler(event);
      if (isThenable(result)) result.then(undefined, (error: unknown) => this.failed(event, error));
    } catch (error) {
      this.failed(event, error);
    }
  }

  private failed(event: SessionEvent, error: unknown): void {
    this.logger.error(
      `A handler of the session event '${event.name}' failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
    );
  }

  private update(): void {
    this.listening = this.handlers.size > 0 || this.forward !== undefined;
  }
}

/** The names given, checked: an unknown name is a TypeError that lists the known ones. */
export function namesOf<N extends SessionEventName>(names: N | readonly N[]): readonly N[] {
  const list: readonly N[] = typeof names === 'string' ? [names] : names;
  for (const name of list) {
    if (!SESSION_EVENT_NAMES.includes(name)) {
      throw new TypeError(
        `'${String(name)}' is not a session event; the events are ${SESSION_EVENT_NAMES.map((n) => `'${n}'`).join(', ')}`,
      );
    }
  }
  return list;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}
