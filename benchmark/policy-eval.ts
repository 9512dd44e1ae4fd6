// Policy evaluation speed (target, README "Performance": <= 5 µs median for an exec command against a
// policy the size of standard.yaml). Prints figures; asserts nothing.
//
//   node --import tsx benchmark/policy-eval.ts [--policy FILE] [--corpus FILE] [--rounds N] [--no-prefilter] [--baseline REV]
//
// --baseline REV: also measures src/policy as of git revision REV (extracted to a temporary
// directory), interleaved round by round with the working tree, for before/after figures from
// one run on the same machine load.
//
// Defaults: the reference's standard.yaml and bench corpus where tests/reference.ts finds them
// (RAMPART_REFERENCE_DIR; optional test data, read in place), else our built-in policy and the
// exec commands of its own suite (policies/standard.tests.yaml). --corpus also takes a suite file.
//
// What is cached, honestly:
// - cold: before EVERY timed evaluation all per-command memory is dropped (the decision cache,
//   normalizations, analyses, alias/subject caches), so each evaluation works like the first
//   sight of that command. Kept: what is computed once per policy set (parsed policies, compiled
//   globs, the in-scope policy list, the prefilter's key index) — as in a running server.
// - warm: the same commands again with every cache on; an exact repeat is answered from the
//   decision cache.
// Both are measured in one run, interleaved round by round, over the corpus's exec commands.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { loadCorpus, loadPolicyFile, loadSuite } from '../src/policy/index.ts';
import { clearCommandCaches, evaluate, type ExtraOptions } from '../src/policy/evaluate.ts';
import { builtinPolicyPath } from '../src/util/paths.ts';
import { lookUpReference } from '../tests/reference.ts';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const reference = lookUpReference().dir;
const { values } = parseArgs({
  options: {
    policy: { type: 'string', default: reference ? path.join(reference, 'standard.yaml') : builtinPolicyPath },
    corpus: { type: 'string', default: reference ? path.join(reference, 'bench-corpus.yaml') : builtinPolicyPath.replace(/\.yaml$/, '.tests.yaml') },
    rounds: { type: 'string', default: '100' },
    'no-prefilter': { type: 'boolean', default: false },
    baseline: { type: 'string' },
  },
});

/** One engine under test: the working tree, or src/policy at a baseline revision. */
interface Engine {
  label: string;
  set: ReturnType<typeof loadPolicyFile>;
  evaluate: typeof evaluate;
  clearCommandCaches: typeof clearCommandCaches;
}

async function baselineEngine(rev: string): Promise<Engine> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rampart-baseline-'));
  const archive = execFileSync('git', ['-C', repo, 'archive', rev, 'src/policy', 'src/util', 'package.json']);
  execFileSync('tar', ['-x', '-C', dir], { input: archive });
  fs.symlinkSync(path.join(repo, 'node_modules'), path.join(dir, 'node_modules'));
  const index = await import(pathToFileURL(path.join(dir, 'src/policy/index.ts')).href);
  const engine = await import(pathToFileURL(path.join(dir, 'src/policy/evaluate.ts')).href);
  return { label: `baseline ${rev}`, set: index.loadPolicyFile(values.policy), evaluate: engine.evaluate, clearCommandCaches: engine.clearCommandCaches };
}

const loadStart = process.hrtime.bigint();
const set = loadPolicyFile(values.policy);
const loadMs = Number(process.hrtime.bigint() - loadStart) / 1e6;
/** The exec commands of an attack corpus (cases:/entries:) or of a test suite (tests:). */
function execCommands(file: string): string[] {
  if (/^tests:/m.test(fs.readFileSync(file, 'utf8'))) {
    return loadSuite(file).tests.flatMap((t) => (t.tool === 'exec' && typeof t.params.command === 'string' ? [t.params.command] : []));
  }
  return loadCorpus(file)
    .cases.filter((c) => c.tool === 'exec')
    .map((c) => c.input.command!);
}
const commands = execCommands(values.corpus);
const rounds = Number(values.rounds);
const options: ExtraOptions = { prefilter: !values['no-prefilter'] };
const engines: Engine[] = [{ label: 'working tree', set, evaluate, clearCommandCaches }];
if (values.baseline !== undefined) engines.unshift(await baselineEngine(values.baseline));

function evalOnce(engine: Engine, command: string): number {
  const t0 = process.hrtime.bigint();
  engine.evaluate(engine.set, { agent: '*', session: '', tool: 'exec', params: { command } }, options);
  return Number(process.hrtime.bigint() - t0) / 1000;
}

// Warm-up: JIT, and the per-policy precomputation a server has done after its first call.
for (let i = 0; i < 20; i++) {
  for (const engine of engines) {
    for (const command of commands) {
      engine.clearCommandCaches();
      evalOnce(engine, command);
    }
  }
}

const loadBefore = os.loadavg();
const samples = engines.map(() => ({ cold: [] as number[], warm: [] as number[] }));
for (let r = 0; r < rounds; r++) {
  engines.forEach((engine, e) => {
    for (const command of commands) {
      engine.clearCommandCaches(); // outside the timed region
      samples[e]!.cold.push(evalOnce(engine, command));
    }
    for (const command of commands) evalOnce(engine, command); // untimed: fill the caches
    for (const command of commands) samples[e]!.warm.push(evalOnce(engine, command));
  });
}
const loadAfter = os.loadavg();

function stats(samples: number[]) {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return { median: at(0.5), p99: at(0.99), max: at(1), n: sorted.length };
}

/** Median over rounds of each command, then the median and worst of those (noise-robust per command). */
function perCommand(samples: number[]) {
  const medians = commands.map((_, i) => {
    const own = [];
    for (let r = 0; r < rounds; r++) own.push(samples[r * commands.length + i]!);
    return stats(own).median;
  });
  const order = medians.map((m, i) => [m, i] as const).sort((a, b) => b[0] - a[0]);
  return { slowest: order.slice(0, 3).map(([m, i]) => `${m.toFixed(1)} µs ${JSON.stringify(commands[i]!.slice(0, 60))}`) };
}

console.log(`policy ${values.policy}: ${set.policyCount} policies, ${set.ruleCount} rules, loaded in ${loadMs.toFixed(1)} ms`);
console.log(`corpus ${values.corpus}: ${commands.length} exec commands × ${rounds} rounds; prefilter ${options.prefilter ? 'on' : 'off'}`);
const load = (l: number[]) => l.map((x) => x.toFixed(2)).join(' ');
console.log(`load average (1/5/15 min) before ${load(loadBefore)}, after ${load(loadAfter)}`);
const row = (label: string, s: ReturnType<typeof stats>) =>
  `${label.padEnd(48)} median ${s.median.toFixed(2).padStart(7)} µs   p99 ${s.p99.toFixed(2).padStart(8)} µs   max ${s.max.toFixed(1).padStart(8)} µs   (${s.n} evaluations)`;
engines.forEach((engine, e) => {
  const c = stats(samples[e]!.cold);
  const w = stats(samples[e]!.warm);
  if (engines.length > 1) console.log(`— ${engine.label}`);
  console.log(row('cold (never seen: per-command caches cleared)', c));
  console.log(row('warm (repeated: decision cache hit)', w));
  console.log(`cold / warm median ratio: ${(c.median / w.median).toFixed(1)}×`);
  console.log(`slowest cold commands (median over rounds): ${perCommand(samples[e]!.cold).slowest.join('; ')}`);
});
