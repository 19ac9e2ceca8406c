import { isLive } from './socket-scope.js';
import type { SessionManager } from '../session-manager.js';

/** What the table needs of a connection. */
export interface LiveSocket {
  /** The default driver's session it connected with: its cookie and public handle. */
  readonly bound: { cookie: string; handle: string } | undefined;
  /** Closes the socket: its session ended. */
  end(): void;
}

/**
 * The connected sockets whose session was live when they connected, by the session's handle, so a
 * session that ends closes its sockets:
 * - in this process, at once: lifecycle.sessionEnded is told of every id a commit retires (sign-out,
 *   destroy, regenerate) and SessionManager of every revocation through SessionRegistry;
 * - elsewhere (another process on the same store, an admin's store.destroy(), expiry): every
 *   `sockets.checkInterval` ms one timer reads each session again, one read per session however many
 *   sockets share it, sixteen at a time. Each message of a socket reads it too (socket-connection.ts).
 * A store that cannot be read closes nothing: its sessions are checked again at the next turn.
 */
export class LiveSockets {
  private readonly groups = new Map<string, Set<LiveSocket>>();
  private timer: NodeJS.Timeout | undefined;
  private sweeping = false;

  constructor(
    private readonly manager: SessionManager,
    private readonly interval: number,
  ) {}

  add(socket: LiveSocket): void {
    const handle = socket.bound?.handle;
    if (handle === undefined) return;
    let group = this.groups.get(handle);
    if (group === undefined) this.groups.set(handle, (group = new Set()));
    group.add(socket);
    if (this.timer === undefined && this.interval > 0) {
      this.timer = setInterval(() => void this.sweep(), this.interval).unref();
    }
  }

  remove(socket: LiveSocket): void {
    const handle = socket.bound?.handle;
    const group = handle === undefined ? undefined : this.groups.get(handle);
    if (group === undefined || !group.delete(socket)) return;
    if (group.size === 0) this.groups.delete(handle!);
    if (this.groups.size === 0) this.stop();
  }

  /** A session of this process ended (lifecycle.sessionEnded): its sockets are closed. */
  ended(driver: string, id: string): void {
    if (driver !== this.manager.options.driver || this.groups.size === 0) return;
    this.end(this.manager.services.handle(id));
  }

  /** Reads every session with sockets again; closes those of the sessions that ended. */
  async sweep(): Promise<void> {
    if (this.sweeping) return;
    this.sweeping = true;
    try {
      const handles = [...this.groups.keys()];
      for (let i = 0; i < handles.length; i += 16) {
        await Promise.all(handles.slice(i, i + 16).map((handle) => this.check(handle)));
      }
    } finally {
      this.sweeping = false;
    }
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private async check(handle: string): Promise<void> {
    const first = this.groups.get(handle)?.values().next().value;
    if (first?.bound === undefined) return;
    const { options, registry } = this.manager;
    let live: boolean | undefined;
    try {
      live = isLive(await registry.resolve(options.driver).load(first.bound.cookie, options.clock()));
    } catch {
      live = undefined;
    }
    if (live === false) this.end(handle);
  }

  private end(handle: string): void {
    const group = this.groups.get(handle);
    if (group === undefined) return;
    for (const socket of [...group]) {
      this.remove(socket);
      socket.end();
    }
  }
}
