import type { SessionEventName } from './session-event.js';
import { namesOf } from './session-events.js';

/** The metadata key under which a method's session event names are kept. */
export const SESSION_EVENT_LISTENER = 'nest-session:on-session-event';

/**
 * Subscribes a provider's (or a controller's) method to session events, as @nestjs/event-emitter's
 * `@OnEvent()` does: found at start-up, called with each event after its commit. Applied twice, it
 * listens to both lists. An unknown name is a TypeError when the class is defined.
 */
export function OnSessionEvent(names: SessionEventName | readonly SessionEventName[]): MethodDecorator {
  const list = namesOf(names);
  return (_target, _key, descriptor) => {
    const method = descriptor.value as object;
    const given =
      (Reflect.getMetadata(SESSION_EVENT_LISTENER, method) as SessionEventName[] | undefined) ?? [];
    Reflect.defineMetadata(SESSION_EVENT_LISTENER, [...given, ...list], method);
    return descriptor;
  };
}
