import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import type { SessionModuleOptions } from 'nest-session';

const CHILD = fileURLToPath(new URL('./app-process-child.ts', import.meta.url));
const REGISTER = fileURLToPath(new URL('./ts-register.js', import.meta.url));

/** The test app (sessionApp's routes and sign-in, on Express) in a process of its own, with these options. */
export class AppProcess {
  private constructor(
    private readonly child: ChildProcess,
    readonly url: string,
  ) {}

  static async start(options: SessionModuleOptions): Promise<AppProcess> {
    const child = fork(CHILD, [JSON.stringify(options)], {
      execArgv: ['--import', REGISTER],
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    const [message] = (await Promise.race([
      once(child, 'message'),
      once(child, 'exit').then(([code]) => {
        throw new Error(`the app process exited with ${String(code)} before it listened`);
      }),
    ])) as [{ port: number }];
    return new AppProcess(child, `http://127.0.0.1:${message.port}`);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = once(this.child, 'exit');
    this.child.send('stop');
    await exited;
  }
}
