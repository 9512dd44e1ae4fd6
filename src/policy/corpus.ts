// Attack corpora for `rampart bench` (POL-SUITE-1..2): each case is evaluated in preview
// mode and scored; the weighted coverage is a score, not a pass/fail oracle.
import type { Node } from 'yaml';
import { evaluate } from './evaluate.ts';
import type { PolicySet } from './load.ts';
import { readPolicyText } from './load.ts';
import type { Action } from './types.ts';
import { YamlReader } from './yaml-reader.ts';

export type Severity = 'critical' | 'high' | 'medium';
export const SEVERITY_WEIGHT: Record<Severity, number> = { critical: 3, high: 2, medium: 1 };
const OSES = ['linux', 'darwin', 'windows', '*'] as const;
const TOOLS = ['exec', 'read', 'write'] as const;
const EXPECTED = ['allow', 'watch', 'ask', 'deny'] as const;

export interface CorpusCase {
  id: string;
  name: string;
  category: string;
  severity: Severity;
  os: (typeof OSES)[number];
  tool: (typeof TOOLS)[number];
  input: { command?: string; path?: string; content?: string };
  expected: Exclude<Action, 'webhook'>;
  technique?: string;
  description?: string;
}

export interface Corpus {
  file: string;
  name: string;
  description: string;
  cases: CorpusCase[];
}

export interface CorpusCaseResult {
  id: string;
  name: string;
  severity: Severity;
  os: string;
  tool: string;
  expected: string;
  actual: Action;
  message: string;
  matchedPolicies: string[];
  covered: boolean;
  weight: number;
}

export interface CorpusScore {
  /** Host filter applied (`*` = every case). */
  os: string;
  strict: boolean;
  total: number;
  covered: number;
  weightedTotal: number;
  weightedCovered: number;
  /** weightedCovered / weightedTotal, in percent (0 when there are no cases). */
  coverage: number;
  cases: CorpusCaseResult[];
}

export function hostOs(): string {
  return process.platform === 'win32' ? 'windows' : process.platform;
}

export function loadCorpus(file: string): Corpus {
  const { reader, root } = YamlReader.parse(file, readPolicyText(file));
  const keys = new Set(reader.pairs(root, 'the corpus').map((p) => p.key));
  if (!keys.has('version') && keys.has('entries')) return loadV1(reader, root, file);
  const top = reader.mapping(root, 'the corpus', ['version', 'name', 'description', 'defaults', 'cases']);
  const version = reader.string(top.get('version'), 'version').trim();
  if (version !== '2')
    reader.fail(top.get('version') ?? root, `unsupported corpus version "${version}" (expected "2", or a versionless v1 file with entries:)`);
  const d = reader.mapping(top.get('defaults'), 'defaults', ['os', 'expected']);
  const defaultOs = reader.string(d.get('os'), 'defaults.os').trim() || '*';
  const defaultExpected = reader.string(d.get('expected'), 'defaults.expected').trim() || 'deny';
  const seen = new Map<string, number | undefined>();
  const cases = reader.list(top.get('cases'), 'cases').map((node, i) => {
    const c = reader.mapping(node, `cases[${i}]`, ['id', 'name', 'category', 'severity', 'os', 'tool', 'input', 'expected', 'technique', 'description']);
    const id = reader.string(c.get('id'), `cases[${i}].id`).trim().toUpperCase();
    if (id === '') reader.fail(node, `cases[${i}] has no id`);
    if (seen.has(id)) reader.fail(node, `duplicate case id ${id} (first at line ${seen.get(id)})`);
    seen.set(id, reader.lineOf(node));
    const at = `case ${id}`;
    const input = reader.mapping(c.get('input'), `${at} input`, ['command', 'path', 'content']);
    const tool = oneOf(reader, c.get('tool'), `${at} tool`, TOOLS, 'exec');
    const result: CorpusCase = {
      id,
      name: reader.string(c.get('name'), `${at} name`),
      category: reader.string(c.get('category'), `${at} category`),
      severity: oneOf(reader, c.get('severity'), `${at} severity`, ['critical', 'high', 'medium'] as const, 'medium'),
      os: oneOf(reader, c.get('os'), `${at} os`, OSES, defaultOs as CorpusCase['os']),
      tool,
      input: {},
      expected: expectedOf(reader, c.get('expected'), `${at} expected`, defaultExpected),
    };
    for (const key of ['command', 'path', 'content'] as const) {
      if (input.has(key)) result.input[key] = reader.string(input.get(key), `${at} input.${key}`);
    }
    if (tool === 'exec' && !result.input.command) reader.fail(node, `${at}: exec cases need input.command`);
    if (tool !== 'exec' && !result.input.path) reader.fail(node, `${at}: ${tool} cases need input.path`);
    if (c.has('technique')) result.technique = reader.string(c.get('technique'), `${at} technique`);
    if (c.has('description')) result.description = reader.string(c.get('description'), `${at} description`);
    return result;
  });
  return {
    file,
    name: reader.string(top.get('name'), 'name'),
    description: reader.string(top.get('description'), 'description'),
    cases,
  };
}

function loadV1(reader: YamlReader, root: Node | null, file: string): Corpus {
  const top = reader.mapping(root, 'the corpus', ['name', 'description', 'entries']);
  const cases = reader.list(top.get('entries'), 'entries').map((node, i): CorpusCase => {
    const e = reader.mapping(node, `entries[${i}]`, ['command', 'expected_action', 'category', 'severity', 'name', 'id']);
    const command = reader.string(e.get('command'), `entries[${i}].command`);
    if (command.trim() === '') reader.fail(node, `entries[${i}] has no command`);
    return {
      id: reader.string(e.get('id'), `entries[${i}].id`).trim().toUpperCase() || `ENTRY-${i + 1}`,
      name: reader.string(e.get('name'), `entries[${i}].name`) || command,
      category: reader.string(e.get('category'), `entries[${i}].category`),
      severity: oneOf(reader, e.get('severity'), `entries[${i}].severity`, ['critical', 'high', 'medium'] as const, 'medium'),
      os: '*',
      tool: 'exec',
      input: { command },
      expected: expectedOf(reader, e.get('expected_action'), `entries[${i}].expected_action`, 'deny'),
    };
  });
  return { file, name: reader.string(top.get('name'), 'name'), description: reader.string(top.get('description'), 'description'), cases };
}

function oneOf<T extends string>(reader: YamlReader, node: Node | null | undefined, where: string, allowed: readonly T[], fallback: T): T {
  const value = reader.string(node, where).trim().toLowerCase();
  if (value === '') return fallback;
  if (!(allowed as readonly string[]).includes(value)) reader.fail(node, `${where} "${value}" is not one of ${allowed.join(', ')}`);
  return value as T;
}

function expectedOf(reader: YamlReader, node: Node | null | undefined, where: string, fallback: string): CorpusCase['expected'] {
  let value = reader.string(node, where).trim().toLowerCase() || fallback;
  if (value === 'require_approval') value = 'ask';
  if (!(EXPECTED as readonly string[]).includes(value)) reader.fail(node, `${where} "${value}" is not one of ${EXPECTED.join(', ')}`);
  return value as CorpusCase['expected'];
}

export interface ScoreOptions {
  /** Keep `*` cases plus this OS (default: the host); `*` or `all` keeps every case. */
  os?: string;
  /** Only exact matches count (otherwise an ask also covers an expected deny). */
  strict?: boolean;
}

export function scoreCorpus(set: PolicySet, corpus: Corpus, opts: ScoreOptions = {}): CorpusScore {
  const os = opts.os === undefined ? hostOs() : opts.os === 'all' ? '*' : opts.os;
  const strict = opts.strict ?? false;
  const cases: CorpusCaseResult[] = [];
  for (const c of corpus.cases) {
    if (os !== '*' && c.os !== '*' && c.os !== os) continue;
    const params: Record<string, unknown> =
      c.tool === 'exec'
        ? { command: c.input.command }
        : { path: c.input.path, file_path: c.input.path, ...(c.input.content !== undefined ? { content: c.input.content } : {}) };
    const decision = evaluate(set, { agent: '*', session: '', tool: c.tool, params });
    const covered = decision.action === c.expected || (!strict && c.expected === 'deny' && decision.action === 'ask');
    cases.push({
      id: c.id,
      name: c.name,
      severity: c.severity,
      os: c.os,
      tool: c.tool,
      expected: c.expected,
      actual: decision.action,
      message: decision.message,
      matchedPolicies: decision.matchedPolicies,
      covered,
      weight: SEVERITY_WEIGHT[c.severity],
    });
  }
  const weightedTotal = cases.reduce((n, c) => n + c.weight, 0);
  const weightedCovered = cases.reduce((n, c) => n + (c.covered ? c.weight : 0), 0);
  return {
    os,
    strict,
    total: cases.length,
    covered: cases.filter((c) => c.covered).length,
    weightedTotal,
    weightedCovered,
    coverage: weightedTotal === 0 ? 0 : (100 * weightedCovered) / weightedTotal,
    cases,
  };
}
