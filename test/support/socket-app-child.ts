// The sockets test app (socket-app.ts: the routes, sign-in and the probe gateway) in a process of its
// own, for tests that run several app processes on one store. argv: JSON SessionModuleOptions, the
// platform, the socket library. Started with ScriptProcess, which learns its port as it listens.
import 'reflect-metadata';
import process from 'node:process';
import type { SessionModuleOptions } from 'nest-session';
import type { Platform } from './app.js';
import { createSocketApp, type SocketLibrary } from './socket-app.js';

const [options, platform, library] = process.argv.slice(2);
await createSocketApp(
  platform as Platform,
  library as SocketLibrary,
  JSON.parse(options) as SessionModuleOptions,
);
