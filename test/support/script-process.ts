import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

const HOOKS = ['./ts-register.js', './report-port.js'].map((file) =>
  fileURLToPath(new URL(file, import.meta.url)),
);

/**
 * A TypeScript entry point (an app's main.ts) run as `node main.ts` would run it, in a process of its
 * own: the library's TypeScript compiled as Jest compiles it, 'nest-session' resolved to lib/. Ready
 * once its server listens; PORT is 0, so it takes a free port.
 */
export class ScriptProcess {
  private constructor(
    private readonly child: ChildProcess,
    readonly url: string,
  ) {}

  static async start(
    file: string,
    { cwd, env = {}, args = [] }: { cwd: string; env?: Record<string, string | undefined>; args?: string[] },
  ): Promise<ScriptProcess> {
    const { NODE_OPTIONS: _jest, ...inherited } = process.env;
    const child = fork(file, args, {
      cwd,
      env: { ...inherited, PORT: '0', ...env },
      execArgv: HOOKS.flatMap((hook) => ['--import', hook]),
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const [message] = (await Promise.race([
      once(child, 'message'),
      once(child, 'exit').then(([code]) => {
        throw new Error(`${file} exited with ${String(code)} before it listened:\n${stderr}`);
      }),
    ])) as [{ port: number }];
    return new ScriptProcess(child, `http://127.0.0.1:${message.port}`);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = once(this.child, 'exit');
    this.child.kill('SIGTERM');
    await exited;
  }
}
