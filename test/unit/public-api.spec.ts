import { describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ts from 'typescript';
import { root } from '../support/typecheck.js';

/** The names DESIGN.md lists, and the types of the contracts they name (options, the store). */
const PUBLIC = [
  // module, injectables, decorators
  'SessionModule',
  'Session',
  'SessionData',
  'SignInOptions',
  'SessionTimeLeft',
  'SessionRegistry',
  'SessionDevice',
  'SessionPolicyOptions',
  'SessionUsersOptions',
  'SessionManager',
  'SessionStoreFactory',
  'Flash',
  'KeepFlash',
  'FlashInterceptor',
  // WebSocket gateways
  'SessionSockets',
  'SocketShape',
  'SessionSocketsOptions',
  // events and time left
  'SessionEvents',
  'SessionEvent',
  'SessionEventMap',
  'SessionEventName',
  'OnSessionEvent',
  'SessionHealthIndicator',
  'SessionHealthResult',
  'NoTouch',
  'NoTouchInterceptor',
  // the store contract
  'SessionStore',
  'PrunableSessionStore',
  'ClosableSessionStore',
  'SynchronousSessionStore',
  'UserIndexedSessionStore',
  'SessionUser',
  'UserLimit',
  'StartupCheckedSessionStore',
  'DiagnosingSessionStore',
  'SessionRecord',
  'SessionChanges',
  'SessionMeta',
  'applyChanges',
  'emptyRecord',
  // coming from express-session
  'fromExpressSessionStore',
  'ExpressSessionStore',
  'SessionMigrationOptions',
  // options
  'SessionModuleOptions',
  'SessionCookieOptions',
  'ResolvedSessionOptions',
  // errors
  'SessionError',
  'SessionErrorCode',
  'SessionConfigError',
  'SessionOutsideRequestError',
  'SessionStoreUnavailableError',
  'SessionStoreMisconfiguredError',
  'SessionTooLargeError',
  'SessionConflictError',
  'SessionReadOnlyError',
  'SessionUserLimitError',
].sort();

/** What nest-session/testing exports (lib/testing/index.ts), DESIGN.md's "Testing kit". */
const TESTING = [
  'SessionTesting',
  'MintOptions',
  'RunInSessionOptions',
  'InSession',
  'NestContext',
  'SessionSnapshot',
  'SessionExpectations',
  'SessionSource',
  'TestClock',
  'TestDevice',
  'toBrowserCookie',
  'BrowserCookie',
  'BrowserCookieOptions',
].sort();

/** The names a declaration file exports. */
function exportsOf(file: string): string[] {
  const program = ts.createProgram([file], {
    skipLibCheck: true,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
  });
  const checker = program.getTypeChecker();
  const symbol = checker.getSymbolAtLocation(program.getSourceFile(file)!)!;
  return checker
    .getExportsOfModule(symbol)
    .map((s) => s.getName())
    .sort();
}

/** Emits the declarations as `npm run build` does (tsconfig.build.json) into a temporary directory. */
function emitDeclarations(): string {
  const out = mkdtempSync(join(tmpdir(), 'nest-session-dts-'));
  const config = ts.getParsedCommandLineOfConfigFile(
    join(root, 'tsconfig.build.json'),
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) => {
        throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
      },
    },
  )!;
  const program = ts.createProgram(config.fileNames, {
    ...config.options,
    outDir: out,
    declaration: true,
    emitDeclarationOnly: true,
    sourceMap: false,
    declarationMap: false,
  });
  const result = program.emit();
  expect(result.diagnostics.map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'))).toEqual([]);
  return out;
}

describe('published types', () => {
  it('dist/index.d.ts and dist/testing/index.d.ts export exactly the public names, no @internal member', () => {
    const out = emitDeclarations();
    try {
      expect(exportsOf(join(out, 'index.d.ts'))).toEqual(PUBLIC);
      expect(exportsOf(join(out, 'testing', 'index.d.ts'))).toEqual(TESTING);
      const kit = readFileSync(join(out, 'testing', 'session-testing.d.ts'), 'utf8');
      expect(kit).not.toMatch(/lifecycle|services|TestScope/);

      const manager = readFileSync(join(out, 'session-manager.d.ts'), 'utf8');
      for (const internal of [
        'lifecycle',
        'register(',
        'checkDrivers',
        'DriverFactory',
        'SessionLifecycle',
      ]) {
        expect(manager).not.toContain(internal);
      }
      const session = readFileSync(join(out, 'session.d.ts'), 'utf8');
      expect(session).not.toContain('RequestContext');
      const sockets = readFileSync(join(out, 'realtime', 'sockets.d.ts'), 'utf8');
      for (const internal of ['manager', 'live', 'constructor']) expect(sockets).not.toContain(internal);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }, 60_000);
});
