// Instructions per request by function, from a count kept with BENCH_KEEP_CALLGRIND (instructions.js):
// callgrind's per-instruction costs of the JavaScript thread (both halves of the window), each
// attributed to the code it ran in: V8's generated code by its map (/tmp/perf-<pid>.map, written
// under --perf-basic-prof), native code by its symbol. Self costs only: what ran in the function
// itself, not in what it called.
//
//   node bench/instr-profile.js <dir> [--requests=2000] [--top=40] [--lib]
//
// `--lib` lists only the code of lib/ (and sums it); the rest of the lines name the area a function
// belongs to (lib/, a package, Node's own JavaScript, V8's builtins, native code).
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import process from 'node:process';

/**
 * The map's entries, sorted by start address: [start, end, name, line]. A range can appear more than
 * once (code freed and its space given to new code): the later line is the newer code.
 */
function readPerfMap(file) {
  const entries = [];
  let line = 0;
  let widest = 0;
  for (const text of readFileSync(file, 'utf8').split('\n')) {
    const match = /^([0-9a-f]+) ([0-9a-f]+) (.*)$/.exec(text);
    if (!match) continue;
    const start = parseInt(match[1], 16);
    const size = parseInt(match[2], 16);
    widest = Math.max(widest, size);
    entries.push([start, start + size, match[3], line++]);
  }
  entries.sort((a, b) => a[0] - b[0] || a[3] - b[3]);
  entries.widest = widest;
  entries.found = new Map();
  return entries;
}

/** The newest code whose range holds the address. */
function lookup(entries, address) {
  const known = entries.found.get(address);
  if (known !== undefined) return known ?? undefined;
  let lo = 0;
  let hi = entries.length - 1;
  let last = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (entries[mid][0] <= address) {
      last = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  let best;
  for (let i = last; i >= 0 && entries[i][0] > address - entries.widest - 1; i--) {
    const entry = entries[i];
    if (address < entry[1] && (best === undefined || entry[3] > best[3])) best = entry;
  }
  entries.found.set(address, best?.[2] ?? null);
  return best?.[2];
}

/**
 * From one callgrind file written with --dump-instr=yes: self Ir by code (`into`), and the inclusive
 * cost of the calls made from it, by the code the call site is in (`calls`).
 */
function addFile(file, entries, into, calls, from) {
  const names = new Map();
  let fn = '?';
  let last = 0;
  let skipNext = false;
  let callee = '?';
  let target = 0;
  const resolve = (value) => {
    const match = /^\((\d+)\)(?: (.*))?$/.exec(value);
    if (!match) return value;
    if (match[2] !== undefined) names.set(match[1], match[2]);
    return names.get(match[1]);
  };
  const position = (token) => {
    if (token === '*') return last;
    if (token[0] === '+') return last + Number(token.slice(1));
    if (token[0] === '-') return last - Number(token.slice(1));
    return Number(token);
  };
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line === '') continue;
    const first = line.charCodeAt(0);
    if ((first >= 48 && first <= 57) || first === 43 || first === 45 || first === 42) {
      const parts = line.split(' ');
      const address = position(parts[0]);
      last = address;
      const cost = Number(parts[parts.length - 1]);
      const code = lookup(entries, address) ?? `${fn} (native)`;
      const to = skipNext ? calls : into; // a call's line: its inclusive cost, at the call site
      if (skipNext && from !== undefined) {
        const name = short(lookup(entries, target) ?? `${callee} (native)`);
        if (from.pattern.test(code)) from.callees.set(name, (from.callees.get(name) ?? 0) + cost);
        if (from.pattern.test(name))
          from.callers.set(short(code), (from.callers.get(short(code)) ?? 0) + cost);
      }
      skipNext = false;
      to.set(code, (to.get(code) ?? 0) + cost);
      continue;
    }
    if (line.startsWith('fn=')) fn = resolve(line.slice(3)) ?? '?';
    else if (line.startsWith('cfn=')) callee = resolve(line.slice(4)) ?? '?';
    else if (line.startsWith('calls=')) {
      skipNext = true;
      const token = line.split(' ')[1];
      target = token === undefined || /^[+*-]/.test(token) ? 0 : Number(token);
    }
  }
}

const LIB = /\/build\/lib\//;

function areaOf(code) {
  if (code.endsWith('(native)')) return 'native (C++: V8 runtime, Node, libc)';
  if (code.startsWith('Builtin:') || code.startsWith('BytecodeHandler:')) return 'V8 builtins';
  if (LIB.test(code)) return 'lib/';
  if (/\/build\/bench\//.test(code)) return 'bench app';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(code.slice(code.lastIndexOf('node_modules/')));
  if (pkg) return pkg[1];
  if (/ node:/.test(code)) return 'node: internals';
  return 'other generated code';
}

/** JS:*name file:line:col -> name file:line (the tier marks and column dropped). */
function short(code) {
  return code
    .replace(/^JS:[*+^~]?/, '')
    .replace(/file:\/\/\S*\/build\//, '')
    .replace(/\S*node_modules\//, '')
    .replace(/:\d+$/, '');
}

const print = (line = '') => process.stdout.write(`${line}\n`);

function main() {
  const args = process.argv.slice(2);
  const dir = args.find((a) => !a.startsWith('--'));
  if (dir === undefined)
    throw new Error('usage: node bench/instr-profile.js <dir> [--requests=N] [--top=N] [--lib]');
  const option = (name, fallback) =>
    Number(args.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback);
  const requests = option('requests', 2000);
  const top = option('top', 40);
  const libOnly = args.includes('--lib');
  const fromArg = args.find((a) => a.startsWith('--calls-from='))?.slice('--calls-from='.length);
  const from =
    fromArg === undefined
      ? undefined
      : { pattern: new RegExp(fromArg), callees: new Map(), callers: new Map() };
  const files = readdirSync(dir);
  const map = files.find((f) => /^perf-\d+\.map$/.test(f));
  if (map === undefined) throw new Error(`no perf-<pid>.map in ${dir}`);
  const entries = readPerfMap(path.join(dir, map));
  const self = new Map();
  const calls = new Map();
  // The JavaScript thread's files of both halves of the window: callgrind.out.<pid>.<1|2>-01.
  for (const file of files.filter((f) => /^callgrind\.out\.\d+\.[12]-01$/.test(f)))
    addFile(path.join(dir, file), entries, self, calls, from);
  // [self, inclusive] by function (its tiers and copies together).
  const grouped = new Map();
  for (const [code, ir] of self) {
    const entry = grouped.get(short(code)) ?? grouped.set(short(code), [0, 0]).get(short(code));
    entry[0] += ir;
    entry[1] += ir;
  }
  for (const [code, ir] of calls) {
    const entry = grouped.get(short(code)) ?? grouped.set(short(code), [0, 0]).get(short(code));
    entry[1] += ir;
  }
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const areas = new Map();
  for (const [code, ir] of self) areas.set(areaOf(code), (areas.get(areaOf(code)) ?? 0) + ir);
  const per = (ir) => (ir / requests).toFixed(0).padStart(7);
  print(`${per(total)} instructions per request on the JavaScript thread (self costs, ${requests} requests)`);
  for (const [area, ir] of [...areas].sort((a, b) => b[1] - a[1])) print(`${per(ir)}  ${area}`);
  print('');
  const rows = [...grouped]
    .filter(([code]) => !libOnly || code.includes(' lib/'))
    .sort((a, b) => b[1][0] - a[1][0]);
  if (libOnly) print(`${per(rows.reduce((s, [, [ir]]) => s + ir, 0))}  lib/'s own code in all`);
  print('   self  with calls');
  for (const [code, [own, inclusive]] of rows.slice(0, top)) print(`${per(own)} ${per(inclusive)}  ${code}`);
  if (from !== undefined) {
    print(`\ncalls made from code matching ${from.pattern} (inclusive):`);
    for (const [name, ir] of [...from.callees].sort((a, b) => b[1] - a[1]).slice(0, top))
      print(`${per(ir)}  ${name}`);
    print(`\ncalls made to code matching ${from.pattern}, by the code they were made from (inclusive):`);
    for (const [name, ir] of [...from.callers].sort((a, b) => b[1] - a[1]).slice(0, top))
      print(`${per(ir)}  ${name}`);
  }
}

main();
