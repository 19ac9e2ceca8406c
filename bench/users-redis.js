// `npm run bench:users-redis`: what the redis store's user index costs, at the store's level, on a
// single Redis, a Redis Cluster and a Sentinel group: a change set on an anonymous session (the
// baseline), signIn() (the binding with users.maxPerUser, and the old id retired), a change set on a
// signed-in session, list() of a user with 5 sessions and with 1 000, revokeAll() of a user with
// 1 000 sessions (as SessionRegistry does it: the list, then 16 retirements at a time), and the
// index's bytes per session (MEMORY USAGE of the user's index keys). Needs the servers of
// NEST_SESSION_REDIS_URL, NEST_SESSION_REDIS_CLUSTER_URLS and NEST_SESSION_REDIS_SENTINELS with
// NEST_SESSION_REDIS_SENTINEL_NAME (`source .ci/tmp/services.env` after `bash .ci/services.sh
// start`); a Redis whose variable is not set is skipped. Not part of `npm run bench`.
// Options: --calls=N (per-call figures: N calls each, default 1000); --sessions=N (the big user,
// default 1000).
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import process from 'node:process';
import { pathToFileURL } from 'node:url';
import { build, libPath } from './build.js';

const HOUR = 60 * 60 * 1000;
const log = (line) => process.stderr.write(`${line}\n`);
const out = (line) => process.stdout.write(`${line}\n`);
const newId = () => randomBytes(32).toString('base64url');

function targets() {
  const env = process.env;
  const found = [];
  if (env.NEST_SESSION_REDIS_URL) found.push(['redis', env.NEST_SESSION_REDIS_URL]);
  if (env.NEST_SESSION_REDIS_CLUSTER_URLS)
    found.push(['redis (Cluster)', env.NEST_SESSION_REDIS_CLUSTER_URLS]);
  if (env.NEST_SESSION_REDIS_SENTINELS && env.NEST_SESSION_REDIS_SENTINEL_NAME) {
    const name = env.NEST_SESSION_REDIS_SENTINEL_NAME;
    found.push(['redis (Sentinel)', `redis+sentinel://${env.NEST_SESSION_REDIS_SENTINELS}/${name}`]);
  }
  return found;
}

function parseArgs(argv) {
  const flags = Object.fromEntries(
    argv.map((arg) => {
      const [key, value] = arg.replace(/^--/, '').split('=');
      return [key, value ?? true];
    }),
  );
  return { calls: Number(flags.calls ?? 1000), sessions: Number(flags.sessions ?? 1000) };
}

const changes = (partial = {}) => ({
  clearData: false,
  clearFlash: false,
  set: {},
  deleted: [],
  flash: {},
  flashCleared: {},
  ...partial,
});
const at = (create) => {
  const now = Date.now();
  return { createdAt: now, lastActivity: now, expiresAt: now + HOUR, create };
};
const device = (id) => ({
  id,
  signedInAt: Date.now(),
  userAgent: 'Mozilla/5.0 (X11; Linux x86_64; rv:130.0) Gecko/20100101 Firefox/130.0',
  ip: '203.0.113.0',
});

/** Runs `step` `calls` times one after the other; the median and mean ms of the part it times. */
async function perCall(calls, step) {
  const times = [];
  for (let i = 0; i < calls; i++) times.push(await step(i));
  times.sort((a, b) => a - b);
  const mean = times.reduce((a, b) => a + b, 0) / times.length;
  return `${times[Math.floor(times.length / 2)].toFixed(3)} ms (mean ${mean.toFixed(3)})`;
}

async function timed(run) {
  const start = performance.now();
  await run();
  return performance.now() - start;
}

async function measure(RedisStore, label, url, { calls, sessions }) {
  const prefix = `bench:users:${newId().slice(0, 8)}:`;
  const store = new RedisStore({ url, prefix });
  const run = `u-${newId().slice(0, 8)}`;
  let users = 0;
  const newUser = () => `${run}-${++users}`;
  try {
    for (let i = 0; i < 100; i++) await store.apply(newId(), changes({ set: { warm: i } }), at(true));
    const anonymous = await perCall(calls, () =>
      timed(() => store.apply(newId(), changes({ set: { n: 1 } }), at(true))),
    );
    const signIn = await perCall(calls, async () => {
      const old = newId();
      await store.apply(old, changes({ set: { cart: [1, 2] } }), at(true));
      const limit = { max: 5, onLimit: 'revoke-oldest', until: Date.now(), replaces: old, revoked: [] };
      return timed(async () => {
        await store.apply(newId(), changes({ user: device(newUser()) }), { ...at(true), limit });
        await store.retire(old, Date.now() + 60_000);
      });
    });
    const few = newUser();
    const fewIds = Array.from({ length: 5 }, () => newId());
    for (const id of fewIds) await store.apply(id, changes({ user: device(few) }), at(true));
    const signedIn = await perCall(calls, (i) =>
      timed(() => store.apply(fewIds[i % 5], changes({ set: { n: i } }), at(false))),
    );
    const list5 = await perCall(calls, () => timed(() => store.listUser(few)));

    const many = newUser();
    const ids = Array.from({ length: sessions }, () => newId());
    for (let i = 0; i < ids.length; i += 50)
      await Promise.all(
        ids.slice(i, i + 50).map((id) => store.apply(id, changes({ user: device(many) }), at(true))),
      );
    const client = await store.client();
    const { indexKeys, userKey } = await import(pathToFileURL(libPath('stores/redis/redis.record')).href);
    let bytes = 0;
    for (const key of indexKeys(prefix, userKey(many)))
      bytes += Number((await client.call('MEMORY', 'USAGE', key, 'SAMPLES', '0')) ?? 0);
    let listed = 0;
    const listMany = await timed(async () => void (listed = (await store.listUser(many)).length));
    let revoked = 0;
    const revokeAll = await timed(async () => {
      const found = await store.listUser(many);
      for (let i = 0; i < found.length; i += 16) {
        const done = await Promise.all(
          found.slice(i, i + 16).map(({ id }) => store.retire(id, Date.now() + 60_000)),
        );
        revoked += done.filter(Boolean).length;
      }
    });
    const left = (await store.listUser(many)).length;
    const keysLeft = await client.exists(...indexKeys(prefix, userKey(many)).slice(0, 2));

    out(`\n${label}`);
    out(`  change set, anonymous session:          ${anonymous}`);
    out(`  signIn (bind, maxPerUser 5, retire old): ${signIn}`);
    out(`  change set, signed-in session:           ${signedIn}`);
    out(`  list, 5 sessions:                        ${list5}`);
    out(`  list, ${sessions} sessions:                     ${listMany.toFixed(1)} ms (${listed} listed)`);
    out(
      `  revokeAll, ${sessions} sessions:                ${revokeAll.toFixed(1)} ms (${revoked} revoked, ${left} left, index keys left ${keysLeft})`,
    );
    out(`  index bytes per session:                 ${(bytes / sessions).toFixed(1)}`);
  } finally {
    await store.close();
  }
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  const found = targets();
  if (found.length === 0) {
    log('no Redis: set NEST_SESSION_REDIS_URL and the others (source .ci/tmp/services.env)');
    process.exitCode = 1;
    return;
  }
  await build();
  const { RedisStore } = await import(pathToFileURL(libPath('stores/redis/redis.store')).href);
  out(`Node ${process.version}; ${options.calls} calls each, one at a time; store level, no HTTP.`);
  for (const [label, url] of found) await measure(RedisStore, label, url, options);
}

await main();
