// Policy evaluation speed (product.md target: <= 5 µs median for an exec command against a
// policy the size of standard.yaml). Prints figures; asserts nothing.
//
//   node --import tsx benchmark/policy-eval.ts [--policy FILE] [--corpus FILE] [--rounds N]
//
// Defaults: the reference standard.yaml and bench corpus from ../shared/fixtures/upstream
// (test data, read in place), else our built-in policy.
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { evaluate, loadCorpus, loadPolicyFile } from '../src/policy/index.ts';
import { builtinPolicyPath } from '../src/util/paths.ts';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const fixtures = path.resolve(repo, '..', 'shared', 'fixtures', 'upstream');
const { values } = parseArgs({
  options: {
    policy: { type: 'string', default: fs.existsSync(path.join(fixtures, 'standard.yaml')) ? path.join(fixtures, 'standard.yaml') : builtinPolicyPath },
    corpus: { type: 'string', default: path.join(fixtures, 'bench-corpus.yaml') },
    rounds: { type: 'string', default: '200' },
  },
});

const loadStart = process.hrtime.bigint();
const set = loadPolicyFile(values.policy);
const loadMs = Number(process.hrtime.bigint() - loadStart) / 1e6;
const commands = loadCorpus(values.corpus).cases.filter((c) => c.tool === 'exec').map((c) => c.input.command!);
const rounds = Number(values.rounds);

function measure(label: string, cmds: string[], repeat = rounds) {
  // Warm up (JIT, and per-command analysis caches as a long-running server would have them).
  const warm = repeat === 0 ? commands.map((c) => `${c} #warm`) : cmds;
  for (let i = 0; i < 20; i++) for (const command of warm) evaluate(set, { agent: '*', session: '', tool: 'exec', params: { command } });
  const samples: number[] = [];
  for (let r = 0; r < Math.max(1, repeat); r++) {
    for (const command of cmds) {
      const t0 = process.hrtime.bigint();
      evaluate(set, { agent: '*', session: '', tool: 'exec', params: { command } });
      samples.push(Number(process.hrtime.bigint() - t0) / 1000);
    }
  }
  samples.sort((a, b) => a - b);
  const at = (q: number) => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))]!;
  console.log(`${label.padEnd(34)} median ${at(0.5).toFixed(2)} µs   p99 ${at(0.99).toFixed(2)} µs   max ${at(1).toFixed(1)} µs   (${samples.length} evaluations)`);
}

console.log(`policy ${values.policy}: ${set.policyCount} policies, ${set.ruleCount} rules, loaded in ${loadMs.toFixed(1)} ms`);
console.log(`corpus ${values.corpus}: ${commands.length} exec commands, ${rounds} rounds`);
measure('corpus commands (repeated)', commands);
// Unique commands (a numbered trailing comment) defeat every per-command cache: the cost of a
// command the server has never seen.
let n = 0;
const fresh = Array.from({ length: Math.max(1, Math.floor(rounds / 10)) }, () => commands.map((c) => `${c} #${n++}`)).flat();
measure('corpus commands (never seen before)', fresh, 0);
