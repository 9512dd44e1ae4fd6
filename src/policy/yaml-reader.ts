// Strict, line-aware reading of a YAML document: every accessor knows the file and line of the
// node it reads, rejects unknown keys and wrong shapes, and throws PolicyLoadError (file:line:
// reason). Go's yaml.v3 with KnownFields(true) is what the reference uses; this mirrors it.
import { isMap, isScalar, isSeq, LineCounter, parseAllDocuments, type Node, type Pair, type YAMLMap } from 'yaml';
import { PolicyLoadError } from './types.ts';

export const MAX_FILE_BYTES = 1024 * 1024;

export class YamlReader {
  constructor(
    readonly file: string,
    private readonly lines: LineCounter,
  ) {}

  /** Parses exactly one YAML document; returns its root node (undefined for an empty document). */
  static parse(file: string, text: string): { reader: YamlReader; root: Node | null } {
    if (Buffer.byteLength(text) > MAX_FILE_BYTES) {
      throw new PolicyLoadError(file, undefined, `file is larger than 1 MiB (${Buffer.byteLength(text)} bytes)`);
    }
    const lines = new LineCounter();
    const docs = parseAllDocuments(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false });
    const reader = new YamlReader(file, lines);
    if (!Array.isArray(docs)) throw new PolicyLoadError(file, 1, 'no YAML document found');
    if (docs.length === 0) throw new PolicyLoadError(file, 1, 'no YAML document found (the file is empty)');
    if (docs.length > 1) {
      const second = docs[1]!;
      throw new PolicyLoadError(file, reader.lineAt(second.range?.[0]), 'more than one YAML document in the file; exactly one is allowed');
    }
    const doc = docs[0]!;
    const problem = doc.errors[0];
    if (problem) {
      throw new PolicyLoadError(file, problem.linePos?.[0].line ?? reader.lineAt(problem.pos[0]), `invalid YAML: ${firstLine(problem.message)}`);
    }
    return { reader, root: (doc.contents as Node | null) ?? null };
  }

  lineAt(offset: number | undefined): number | undefined {
    return offset === undefined ? undefined : this.lines.linePos(offset).line;
  }

  lineOf(node: Node | null | undefined): number | undefined {
    return this.lineAt(node?.range?.[0]);
  }

  fail(node: Node | null | undefined, reason: string): never {
    throw new PolicyLoadError(this.file, this.lineOf(node), reason);
  }

  isNull(node: Node | null | undefined): boolean {
    return node === null || node === undefined || (isScalar(node) && node.value === null);
  }

  /** A mapping with only `allowed` keys; returns key -> value node. A null node reads as empty. */
  mapping(node: Node | null | undefined, where: string, allowed: readonly string[]): Map<string, Node | null> {
    const out = new Map<string, Node | null>();
    if (this.isNull(node)) return out;
    if (!isMap(node)) this.fail(node, `${where} must be a mapping`);
    for (const pair of (node as YAMLMap).items as Array<Pair<Node, Node | null>>) {
      const key = pair.key;
      if (!isScalar(key) || (typeof key.value !== 'string' && typeof key.value !== 'number' && typeof key.value !== 'boolean')) {
        this.fail(key, `${where} has a key that is not a plain string`);
      }
      const name = String(key.value);
      if (!allowed.includes(name)) {
        this.fail(key, `unknown key "${name}" in ${where} (allowed: ${allowed.join(', ')})`);
      }
      out.set(name, pair.value ?? null);
    }
    return out;
  }

  /** A mapping whose keys are free-form (tool_param_matches, params). */
  pairs(node: Node | null | undefined, where: string): Array<{ key: string; keyNode: Node; value: Node | null }> {
    if (this.isNull(node)) return [];
    if (!isMap(node)) this.fail(node, `${where} must be a mapping`);
    return ((node as YAMLMap).items as Array<Pair<Node, Node | null>>).map((pair) => {
      if (!isScalar(pair.key)) this.fail(pair.key, `${where} has a key that is not a plain string`);
      return { key: String(pair.key.value), keyNode: pair.key, value: pair.value ?? null };
    });
  }

  list(node: Node | null | undefined, where: string): Array<Node | null> {
    if (this.isNull(node)) return [];
    if (!isSeq(node)) this.fail(node, `${where} must be a list (a YAML sequence), not a ${describe(node)}`);
    return node.items as Array<Node | null>;
  }

  /** A string field. Any scalar is accepted as its literal text (yaml.v3 does the same); null -> ''. */
  string(node: Node | null | undefined, where: string): string {
    if (this.isNull(node)) return '';
    if (!isScalar(node)) this.fail(node, `${where} must be a string, not a ${describe(node)}`);
    if (typeof node.value === 'string') return node.value;
    return node.source ?? String(node.value);
  }

  stringList(node: Node | null | undefined, where: string): Array<{ value: string; node: Node | null }> {
    return this.list(node, where).map((item, i) => ({ value: this.string(item, `${where}[${i}]`), node: item }));
  }

  bool(node: Node | null | undefined, where: string): boolean {
    if (this.isNull(node)) return false;
    if (!isScalar(node) || typeof node.value !== 'boolean') this.fail(node, `${where} must be true or false`);
    return node.value as boolean;
  }

  int(node: Node | null | undefined, where: string): number {
    if (this.isNull(node)) return 0;
    if (!isScalar(node) || typeof node.value !== 'number' || !Number.isSafeInteger(node.value)) {
      this.fail(node, `${where} must be an integer`);
    }
    return node.value as number;
  }

  /** Plain JS value of a node (params maps in test cases). */
  plain(node: Node | null | undefined): unknown {
    if (this.isNull(node)) return null;
    return (node as Node).toJSON();
  }
}

function describe(node: Node | null | undefined): string {
  if (isMap(node)) return 'mapping';
  if (isSeq(node)) return 'list';
  if (isScalar(node)) return `scalar (${JSON.stringify(node.value)})`;
  return 'value';
}

function firstLine(message: string): string {
  return message.split('\n')[0]!.trim();
}
