// Policy evaluation speed (product.md target: <= 5 µs median for an exec command against a
// policy the size of standard.yaml). Prints figures; asserts nothing.
//
//   node --import tsx benchmark/policy-eval.ts [--policy FILE] [--corpus FILE] [--rounds N] [--no-prefilter]
//
// Defaults: the reference standard.yaml and bench corpus from ../shared/fixtures/upstream
// (test data, read in place), else our built-in policy.
//
// What is cached, honestly:
// - cold: before EVERY timed evaluation all per-command memory is dropped (the decision cache,
//   normalizations, analyses, alias/subject caches), so each evaluation works like the first
//   sight of that command. Kept: what is computed once per policy set (parsed policies, compiled
//   globs, the in-scope policy list, the prefilter's key index) — as in a running server.
// - warm: the same commands again with every cache on; an exact repeat is answered from the
//   decision cache.
// Both are measured in one run, interleaved round by round, over the corpus's exec commands.
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { loadCorpus, loadPolicyFile } from '../src/policy/index.ts';
import { clearCommandCaches, evaluate, type ExtraOptions } from '../src/policy/evaluate.ts';
import { builtinPolicyPath } from '../src/util/paths.ts';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const fixtures = path.resolve(repo, '..', 'shared', 'fixtures', 'upstream');
const { values } = parseArgs({
  options: {
    policy: { type: 'string', default: fs.existsSync(path.join(fixtures, 'standard.yaml')) ? path.join(fixtures, 'standard.yaml') : builtinPolicyPath },
    corpus: { type: 'string', default: path.join(fixtures, 'bench-corpus.yaml') },
    rounds: { type: 'string', default: '100' },
    'no-prefilter': { type: 'boolean', default: false },
  },
});

const loadStart = process.hrtime.bigint();
const set = loadPolicyFile(values.policy);
const loadMs = Number(process.hrtime.bigint() - loadStart) / 1e6;
const commands = loadCorpus(values.corpus).cases.filter((c) => c.tool === 'exec').map((c) => c.input.command!);
const rounds = Number(values.rounds);
const options: ExtraOptions = { prefilter: !values['no-prefilter'] };

function evalOnce(command: string): number {
  const t0 = process.hrtime.bigint();
  evaluate(set, { agent: '*', session: '', tool: 'exec', params: { command } }, options);
  return Number(process.hrtime.bigint() - t0) / 1000;
}

// Warm-up: JIT, and the per-policy precomputation a server has done after its first call.
for (let i = 0; i < 20; i++) {
  for (const command of commands) {
    clearCommandCaches();
    evalOnce(command);
  }
}

const cold: number[] = [];
const warm: number[] = [];
for (let r = 0; r < rounds; r++) {
  for (const command of commands) {
    clearCommandCaches(); // outside the timed region
    cold.push(evalOnce(command));
  }
  for (const command of commands) evalOnce(command); // untimed: fill the caches
  for (const command of commands) warm.push(evalOnce(command));
}

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
const c = stats(cold);
const w = stats(warm);
const row = (label: string, s: ReturnType<typeof stats>) =>
  `${label.padEnd(48)} median ${s.median.toFixed(2).padStart(7)} µs   p99 ${s.p99.toFixed(2).padStart(8)} µs   max ${s.max.toFixed(1).padStart(8)} µs   (${s.n} evaluations)`;
console.log(row('cold (never seen: per-command caches cleared)', c));
console.log(row('warm (repeated: decision cache hit)', w));
console.log(`cold / warm median ratio: ${(c.median / w.median).toFixed(1)}×`);
console.log(`slowest cold commands (median over rounds): ${perCommand(cold).slowest.join('; ')}`);
