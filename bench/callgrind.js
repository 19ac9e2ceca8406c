// Reads callgrind's output files and splits one thread's instruction count into what the program
// itself did and what V8's collector and compiler did meanwhile, from the call graph: the cost of a
// call is inclusive (everything that ran until it returned), so the collector's share is the cost of
// the calls made into it from code outside it, wherever in the program they were made.
import { readFile } from 'node:fs/promises';

/**
 * V8's own work that is not the program's, by function name (the node binary ships its symbols).
 * `gc`: the garbage collector (young and old generation, incremental and concurrent marking,
 * sweeping, the memory reducer, cppgc for Node's C++ objects). `jit`: compiling JavaScript (lazy
 * compilation, Sparkplug, Maglev, Turbofan, their jobs and the installing of their code), the
 * tiering decisions that start them, deoptimization, and regular expression compilation.
 */
const CATEGORIES = [
  [
    'gc',
    new RegExp(
      [
        '^v8::internal::Heap::(CollectGarbage|CollectAllGarbage|CollectAllAvailableGarbage|PerformGarbageCollection|MarkCompact|Scavenge|MinorMarkSweep|StartIncrementalMarking|FinalizeIncrementalMarking|HandleGCRequest|CheckMemoryPressure|CollectGarbageOnMemoryPressure|StartMinorMSConcurrentMarkingIfNeeded|ReportExternalMemoryPressure)',
        '^v8::internal::(IncrementalMarking|IncrementalMarkingJob|MarkCompactCollector|MinorMarkSweepCollector|ScavengerCollector|Scavenger|ScavengeJob|MinorGCJob|ConcurrentMarking|Sweeper|MemoryReducer|ArrayBufferSweeper|MarkingBarrier|MarkingWorklists|PretenuringHandler|GCTracer|EvacuateVisitorBase|Evacuator|FullEvacuator|PointersUpdatingJob|PageEvacuationJob|ParallelClearingJob|MemoryAllocator::Pool|MemoryAllocator::Unmapper|CppHeap|WriteBarrier::Marking|Heap::ExternalStringTable)',
        '^cppgc::internal::(Marker|MarkerBase|ConcurrentMarker|Sweeper|MarkingVisitor|MarkingState|BasicMarkingState|MutatorMarkingState|HeapBase::ExecutePreFinalizers|StatsCollector)',
      ].join('|'),
    ),
  ],
  [
    'jit',
    new RegExp(
      [
        '^v8::internal::Runtime_(CompileLazy|CompileOptimized|StartTurbofanOptimizeJob|StartMaglevOptimizeJob|OptimizeTurbofanEager|OptimizeMaglevEager|CompileBaseline|InstallBaselineCode|InstallSFICode|FunctionLogNextExecution|NotifyDeoptimized|CompileOptimizedOSR|LogOrTraceOptimizedOSREntry|HealOptimizedCodeSlot|BytecodeBudgetInterrupt|DeoptAllOsrLoopsContainingDeoptExit)',
        '^v8::internal::(Compiler|OptimizingCompileDispatcher|OptimizingCompileTaskExecutor|OptimizedCompilationJob|TurbofanCompilationJob|UnoptimizedCompilationJob|BackgroundCompileTask|LazyCompileDispatcher|TieringManager|Deoptimizer|TranslatedState|Parser|ParserBase|PreParser|BaselineBatchCompiler|RegExpCompiler|RegExpBytecodeGenerator|RegExpMacroAssembler|RegExpImpl::Compile|RegExp::EnsureFullyCompiled|RegExpImpl::IrregexpPrepare)',
        '^v8::internal::(compiler|maglev|baseline|interpreter|turboshaft)::',
      ].join('|'),
    ),
  ],
];

function categoryOf(name) {
  for (const [category, pattern] of CATEGORIES) if (pattern.test(name)) return category;
  return undefined;
}

/**
 * One callgrind output file (one thread's part of a dump): { total, self: Map(fn -> Ir), calls:
 * [{ caller, callee, inclusive }] }. Only the Ir event is read (the bench collects nothing else).
 */
export async function readCallgrind(file) {
  const text = await readFile(file, 'utf8');
  const names = new Map();
  const self = new Map();
  const calls = [];
  let total;
  let fn;
  let callee;
  let pendingCall = false;
  const resolve = (value) => {
    // "(id) name" defines a compressed name, "(id)" uses it, a bare name is itself.
    const match = /^\((\d+)\)(?: (.*))?$/.exec(value);
    if (!match) return value;
    if (match[2] !== undefined) names.set(match[1], match[2]);
    return names.get(match[1]);
  };
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const first = line.charCodeAt(0);
    // A cost line: position(s) then the Ir count (positions: numbers, "+n", "-n" or "*").
    if ((first >= 48 && first <= 57) || first === 43 || first === 45 || first === 42) {
      const parts = line.split(' ');
      const cost = parts.length > 1 ? Number(parts[parts.length - 1]) : 0;
      if (pendingCall) {
        calls.push({ caller: fn, callee, inclusive: cost });
        pendingCall = false;
      } else {
        self.set(fn, (self.get(fn) ?? 0) + cost);
      }
      continue;
    }
    if (line.startsWith('fn=')) fn = resolve(line.slice(3));
    else if (line.startsWith('cfn=')) callee = resolve(line.slice(4));
    else if (line.startsWith('calls=')) pendingCall = true;
    else if (line.startsWith('totals:')) total = Number(line.slice(7).trim().split(' ')[0]);
  }
  if (total === undefined) total = [...self.values()].reduce((a, b) => a + b, 0);
  return { total, self, calls };
}

/**
 * Splits a thread's count: { total, gc, jit, program }. A function whose callers all belong to one
 * category belongs to it too (a helper only the compiler calls); then the calls made from outside a
 * category into it carry its cost, so work the collector does inside the compiler stays the
 * compiler's. A thread's own entry functions (no caller) count for their category.
 */
export function splitThread({ total, self, calls }) {
  const category = new Map();
  const callers = new Map();
  for (const name of self.keys()) category.set(name, categoryOf(name));
  for (const { caller, callee } of calls) {
    if (!category.has(callee)) category.set(callee, categoryOf(callee));
    if (!category.has(caller)) category.set(caller, categoryOf(caller));
    if (caller === callee) continue;
    if (!callers.has(callee)) callers.set(callee, new Set());
    callers.get(callee).add(caller);
  }
  for (let changed = true; changed;) {
    changed = false;
    for (const [name, from] of callers) {
      if (category.get(name) !== undefined) continue;
      const seen = new Set([...from].map((c) => category.get(c)));
      if (seen.size === 1 && !seen.has(undefined)) {
        category.set(name, [...seen][0]);
        changed = true;
      }
    }
  }
  const split = { total, gc: 0, jit: 0 };
  for (const { caller, callee, inclusive } of calls) {
    const to = category.get(callee);
    if (to !== undefined && category.get(caller) === undefined) split[to] += inclusive;
  }
  for (const [name, cost] of self) {
    const own = category.get(name);
    if (own !== undefined && !callers.has(name)) split[own] += cost;
  }
  split.program = total - split.gc - split.jit;
  return split;
}
