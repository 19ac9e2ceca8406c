import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

const CHILD = fileURLToPath(new URL('./sqlite-locker-child.js', import.meta.url));

/** Another process on the same SQLite file that takes and gives back its exclusive lock on request. */
export class SqliteLocker {
  private constructor(private readonly child: ChildProcess) {}

  static async start(file: string): Promise<SqliteLocker> {
    const child = fork(CHILD, [file], { stdio: ['ignore', 'ignore', 'ignore', 'ipc'] });
    const [message] = await once(child, 'message');
    if (message !== 'ready') throw new Error(`the SQLite locker said ${String(message)}`);
    return new SqliteLocker(child);
  }

  /** Resolves once the other process holds the lock. */
  lock(): Promise<void> {
    return this.ask('lock', 'locked');
  }

  /** Resolves once the other process has let go of the lock. */
  release(): Promise<void> {
    return this.ask('release', 'released');
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = once(this.child, 'exit');
    this.child.send('exit');
    await exited;
  }

  private async ask(message: string, answer: string): Promise<void> {
    const reply = once(this.child, 'message');
    this.child.send(message);
    const [got] = await reply;
    if (got !== answer) throw new Error(`the SQLite locker said ${String(got)} to ${message}`);
  }
}
