import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { compiled, kitProject, nodeTest, vitest } from '../support/packed-kit.js';
import { root } from '../support/typecheck.js';

// The package as a CommonJS Nest app gets it: built (`npm run build`), packed (`npm pack`), unpacked
// into the node_modules of an app without "type": "module" whose TypeScript compiles to `require()`
// calls, and started with the Node that runs the tests. Nest and the other peers are linked from the
// repository's node_modules, so nothing is downloaded.

const APP = `import 'reflect-metadata';
import { Controller, Get, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Session, SessionModule } from 'nest-session';

@Controller()
class VisitsController {
  constructor(private readonly session: Session) {}

  @Get('visits')
  visits(): { visits: number } {
    const visits = ((this.session.get('visits') as number | undefined) ?? 0) + 1;
    this.session.set('visits', visits);
    return { visits };
  }
}

@Module({ imports: [SessionModule.forRoot('memory')], controllers: [VisitsController] })
class AppModule {}

async function main(): Promise<void> {
  const app = await NestFactory.create(AppModule, { logger: ['error'] });
  app.enableShutdownHooks();
  await app.listen(0, '127.0.0.1');
  console.log('listening on ' + (await app.getUrl()));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
`;

const TSCONFIG = {
  compilerOptions: {
    target: 'ES2022',
    module: 'commonjs',
    strict: true,
    experimentalDecorators: true,
    emitDecoratorMetadata: true,
    esModuleInterop: true,
    skipLibCheck: true,
    types: ['node'],
    rootDir: 'src',
    outDir: 'dist',
  },
  include: ['src'],
};

/** The environment of the tests without Jest's --experimental-vm-modules. */
function childEnv(): NodeJS.ProcessEnv {
  const { NODE_OPTIONS: _jestFlags, ...inherited } = process.env;
  return { ...inherited, NO_COLOR: '1' };
}

function run(command: string, args: string[], cwd: string): string {
  try {
    return execFileSync(command, args, { cwd, env: childEnv(), encoding: 'utf8', stdio: 'pipe' });
  } catch (error: any) {
    throw new Error(`${command} ${args.join(' ')} failed:\n${error.stdout ?? ''}${error.stderr ?? ''}`, {
      cause: error,
    });
  }
}

/** Builds the package into a directory of its own and packs it there; returns the tarball's path. */
function buildAndPack(dir: string): string {
  const stage = join(dir, 'package');
  mkdirSync(stage);
  run('npx', ['tsc', '-p', 'tsconfig.build.json', '--outDir', join(stage, 'dist')], root);
  for (const file of ['package.json', 'README.md', 'LICENSE']) {
    if (existsSync(join(root, file))) cpSync(join(root, file), join(stage, file));
  }
  const [packed] = JSON.parse(run('npm', ['pack', '--json', '--pack-destination', dir], stage));
  return join(dir, packed.filename);
}

/** A link to the repository's copy of a package, which resolves its own dependencies from there. */
function linkFromRepository(modules: string, name: string): void {
  const target = join(root, 'node_modules', name);
  if (!existsSync(target) || existsSync(join(modules, name))) return;
  mkdirSync(dirname(join(modules, name)), { recursive: true });
  symlinkSync(target, join(modules, name), 'dir');
}

/** A CommonJS Nest app with the packed package installed, compiled by tsc. */
function makeApp(dir: string, tarball: string): string {
  const app = join(dir, 'app');
  const modules = join(app, 'node_modules');
  mkdirSync(join(app, 'src'), { recursive: true });
  mkdirSync(join(modules, 'nest-session'), { recursive: true });
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'commonjs-app', private: true }, null, 2));
  writeFileSync(join(app, 'tsconfig.json'), JSON.stringify(TSCONFIG, null, 2));
  writeFileSync(join(app, 'src', 'main.ts'), APP);
  run('tar', ['-xzf', tarball, '-C', join(modules, 'nest-session'), '--strip-components=1'], app);
  const manifest = JSON.parse(readFileSync(join(modules, 'nest-session', 'package.json'), 'utf8'));
  for (const name of [
    ...Object.keys(manifest.dependencies ?? {}),
    ...Object.keys(manifest.peerDependencies ?? {}),
    '@nestjs/platform-express',
    '@types/node',
  ]) {
    linkFromRepository(modules, name);
  }
  run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', app], app);
  return app;
}

/** Starts the app and resolves with the URL it prints. */
function start(app: string, started: ChildProcess[]): Promise<string> {
  const child = spawn(process.execPath, ['dist/main.js'], {
    cwd: app,
    env: childEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  started.push(child);
  const output: string[] = [];
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output.push(chunk.toString());
      const match = /listening on (http:\/\/\S+)/.exec(output.join(''));
      if (match) resolve(match[1]);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) =>
      reject(new Error(`the app exited (${code}) before listening:\n${output.join('')}`)),
    );
  });
}

// One build and pack for every project below.
let dir: string;
let tarball: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'nest-session-commonjs-'));
  tarball = buildAndPack(dir);
}, 120_000);
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('a CommonJS Nest app', () => {
  const started: ChildProcess[] = [];
  let app: string;
  let url: string;

  beforeAll(async () => {
    app = makeApp(dir, tarball);
    url = await start(app, started);
  }, 120_000);

  afterAll(async () => {
    for (const child of started) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      const exited = new Promise((done) => child.once('exit', done));
      child.kill('SIGTERM');
      await exited;
    }
  });

  it('is compiled to require() calls, in a package that is not "type": "module"', () => {
    const compiled = readFileSync(join(app, 'dist', 'main.js'), 'utf8');
    expect(compiled).toContain('require("nest-session")');
    expect(compiled).not.toMatch(/^\s*import\s/m);
    expect(JSON.parse(readFileSync(join(app, 'package.json'), 'utf8')).type).toBeUndefined();
  });

  it('requires the package and keeps a session across requests with its cookie', async () => {
    const first = await fetch(`${url}/visits`);
    expect(first.status).toBe(200);
    expect(await first.json()).toEqual({ visits: 1 });
    const cookie = first.headers
      .getSetCookie()
      .map((header) => header.split(';')[0])
      .join('; ');
    expect(cookie).not.toBe('');

    const second = await fetch(`${url}/visits`, { headers: { cookie } });
    expect(await second.json()).toEqual({ visits: 2 });

    const stranger = await fetch(`${url}/visits`);
    expect(await stranger.json()).toEqual({ visits: 1 });
  });
});

describe.each(['commonjs', 'module'] as const)(
  'nest-session/testing installed packed, in a %s project',
  (format) => {
    let project: string;
    beforeAll(async () => {
      project = await kitProject(dir, tarball, format);
    }, 180_000);

    it('is imported as nest-session/testing, compiled to require() or import as the project is', () => {
      const test = compiled(project, 'test/cart.test.js');
      if (format === 'commonjs') expect(test).toContain('require("nest-session/testing")');
      else expect(test).toMatch(/^import .* from 'nest-session\/testing';$/m);
    });

    it("runs the README testing section's node:test file and the entry points' check with node --test", async () => {
      const report = await nodeTest(project);
      for (const test of [
        'keeps what CartService adds to the session, without HTTP',
        'reads the session a Fastify app.inject() response left',
        'nest-session/testing works on the app of the root entry, which carries no kit',
      ]) {
        const title = test.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
        expect(report).toMatch(new RegExp(`^\\s*ok \\d+ - ${title}$`, 'm'));
      }
      expect(report).toMatch(/^# pass 3$/m);
      expect(report).toMatch(/^# fail 0$/m);
    }, 120_000);

    // vitest ~4.1 (a devDependency): vitest 5 needs Node 22.
    if (format === 'module') {
      it("runs the README's Vitest spec against the installed package", async () => {
        expect(await vitest(project)).toMatch(/Tests\s+1 passed \(1\)/);
      }, 120_000);
    }
  },
);
