/**
 * A health indicator for @nestjs/terminus: is the default driver's store answering? It reads an id
 * no session has, through the driver (a failure counts as any store call does: the outage is logged
 * once, and 'store.down' reported). @nestjs/terminus is never a dependency: when the app has
 * TerminusModule, its HealthIndicatorService makes the result; otherwise the result is the plain
 * `{ [key]: { status } }` that HealthCheckService reads the same way.
 */
import type { ModuleRef } from '@nestjs/core';

/** Imported by name only, so bundlers and type checks never require it. */
const TERMINUS_PACKAGE = '@nestjs/terminus';

/** What terminus reads of an indicator's result: a status under the key, with details beside it. */
export type SessionHealthResult<Key extends string = string> = Record<
  Key,
  { status: 'up' | 'down'; driver: string; message?: string }
>;

/** @nestjs/terminus's HealthIndicatorService, as far as this indicator uses it. */
interface IndicatorService {
  check(key: string): {
    up(data: Record<string, unknown>): Record<string, { status: string }>;
    down(data: Record<string, unknown>): Record<string, { status: string }>;
  };
}

/**
 * `SessionHealthIndicator`: inject it in a terminus health controller,
 * `this.health.check([() => this.session.isHealthy('session')])`. The store is down when it fails or
 * takes longer than `timeout` ms (default 2000) to answer; the cookie driver keeps no store and is
 * always up.
 */
export class SessionHealthIndicator {
  private service: Promise<IndicatorService | undefined> | undefined;

  /** @internal */
  constructor(
    private readonly probe: () => Promise<string>,
    private readonly driver: string,
    private readonly moduleRef: ModuleRef,
  ) {}

  async isHealthy<const Key extends string = 'session'>(
    key: Key = 'session' as Key,
    options: { timeout?: number } = {},
  ): Promise<SessionHealthResult<Key>> {
    const timeout = options.timeout ?? 2000;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${timeout} ms`)), timeout);
      timer.unref();
    });
    let data: { status: 'up' | 'down'; driver: string; message?: string };
    try {
      data = { status: 'up', driver: await Promise.race([this.probe(), late]) };
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      data = { status: 'down', driver: this.driver, message };
    } finally {
      clearTimeout(timer);
    }
    const service = await (this.service ??= this.terminus());
    if (service === undefined) return { [key]: data } as SessionHealthResult<Key>;
    const { status, ...details } = data;
    const session = service.check(key);
    return (status === 'up' ? session.up(details) : session.down(details)) as SessionHealthResult<Key>;
  }

  /** The app's HealthIndicatorService, when it has @nestjs/terminus and TerminusModule. */
  private async terminus(): Promise<IndicatorService | undefined> {
    const loaded = (await import(TERMINUS_PACKAGE).catch(() => undefined)) as
      { HealthIndicatorService?: abstract new (...args: never[]) => IndicatorService } | undefined;
    if (loaded?.HealthIndicatorService === undefined) return undefined;
    try {
      return this.moduleRef.get(loaded.HealthIndicatorService, { strict: false });
    } catch {
      return undefined;
    }
  }
}
