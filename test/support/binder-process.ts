import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import type { TestPlace } from './services.js';

const CHILD = fileURLToPath(new URL('./binder-child.ts', import.meta.url));
const REGISTER = fileURLToPath(new URL('./ts-register.js', import.meta.url));

/** What one process's bindings came to: how many passed, and the codes of those refused. */
export interface Bound {
  passed: number;
  refused: string[];
}

/** A process of its own with a database store on `place`, binding sessions to one user on request. */
export class BinderProcess {
  private constructor(private readonly child: ChildProcess) {}

  static async start(
    place: TestPlace,
    binding: { userId: string; count: number; max: number },
  ): Promise<BinderProcess> {
    const { NODE_OPTIONS: _jest, ...env } = process.env;
    const child = fork(CHILD, [JSON.stringify({ ...place, ...binding })], {
      env,
      execArgv: ['--import', REGISTER],
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    const [message] = await Promise.race([
      once(child, 'message'),
      once(child, 'exit').then(([code]) => {
        throw new Error(`the binder process exited with ${String(code)} before it was ready`);
      }),
    ]);
    if (message !== 'ready') throw new Error(`the binder process said ${String(message)}`);
    return new BinderProcess(child);
  }

  /** Applies its bindings, all at once; resolves to what they came to. */
  async bind(): Promise<Bound> {
    const answer = once(this.child, 'message');
    this.child.send('go');
    const [bound] = (await answer) as [Bound];
    return bound;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = once(this.child, 'exit');
    this.child.send('stop');
    await exited;
  }
}
