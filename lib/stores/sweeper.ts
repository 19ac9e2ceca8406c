/**
 * The sweep of a store that must drop expired records itself (file, database): one prune at a time
 * (a call while one runs joins it), and an optional interval that never keeps the process alive and
 * skips a tick while a prune runs.
 */
export class Sweeper {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> | undefined;
  private stopped = false;

  constructor(
    private readonly sweep: () => Promise<number>,
    private readonly interval: number,
    private readonly failed: (error: unknown) => void,
    /** Told how many records each prune that dropped some dropped. */
    private readonly pruned?: (count: number) => void,
  ) {}

  /** Whether the interval is running. */
  get scheduled(): boolean {
    return this.timer !== undefined;
  }

  /** Whether the interval keeps the process alive (it never should). */
  get keepsProcessAlive(): boolean {
    return this.timer?.hasRef() ?? false;
  }

  /** Prunes now, or joins the prune under way. */
  run(): Promise<number> {
    this.running ??= this.sweep()
      .then((count) => {
        if (count > 0) this.pruned?.(count);
        return count;
      })
      .finally(() => (this.running = undefined));
    return this.running;
  }

  /** Starts the interval (none when it is 0, or once stopped); a tick while a prune runs is skipped. */
  start(): void {
    if (this.interval === 0 || this.timer !== undefined || this.stopped) return;
    this.timer = setInterval(() => {
      if (this.running !== undefined || this.stopped) return;
      this.run().catch(this.failed);
    }, this.interval);
    this.timer.unref();
  }

  /** Stops the interval and waits for the prune under way. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => undefined);
  }
}
