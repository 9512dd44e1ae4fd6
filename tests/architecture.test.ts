// The layers of src/ (docs/architecture.md, "Folders"): what each folder may import. Lower layers
// never reach up: the engine knows nothing of HTTP, the server nothing of commands, the client kit
// nothing of the launcher.
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { repoRoot } from './helpers.ts';

/** Modules at the top of src/ that every layer may use (they import only src/util). */
const SHARED = ['errors', 'exit-codes', 'mode', 'version'];

const MAY_IMPORT: Record<string, string[] | '*'> = {
  cli: ['commands'],
  commands: '*',
  preload: ['client', 'native', 'util'],
  doctor: ['client', 'util'],
  wrap: ['client', 'server', 'util'],
  setup: ['util'],
  overrides: ['policy', 'client', 'util'],
  client: ['native', 'util'],
  server: ['policy', 'audit', 'util'],
  policy: ['util'],
  audit: [],
  native: ['util'],
  util: [],
  ...Object.fromEntries(SHARED.map((name) => [name, ['util']])),
};

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === '__tests__' ? [] : sourceFiles(full);
    return entry.name.endsWith('.ts') ? [full] : [];
  });
}

/** The src/ layer of a file: its folder under src/, or its name for a file at the top. */
function layerOf(file: string): string {
  const [first, second] = path.relative(path.join(repoRoot, 'src'), file).split(path.sep);
  return second === undefined ? first!.replace(/\.ts$/, '') : first!;
}

test('every folder of src/ imports only the layers docs/architecture.md allows', (t) => {
  const src = path.join(repoRoot, 'src');
  const violations: string[] = [];
  let imports = 0;
  for (const file of sourceFiles(src)) {
    const from = layerOf(file);
    const allowed = MAY_IMPORT[from];
    t.not(allowed, undefined, `${path.relative(repoRoot, file)}: the layer "${from}" is not in the table`);
    const text = fs.readFileSync(file, 'utf8');
    for (const match of text.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)'(\.[^']+)'/g)) {
      const target = path.resolve(path.dirname(file), match[1]!);
      if (!target.startsWith(src + path.sep)) continue;
      imports++;
      const to = layerOf(target);
      if (to === from || allowed === '*' || SHARED.includes(to) || allowed?.includes(to)) continue;
      violations.push(`${path.relative(repoRoot, file)} imports ${match[1]} (${from} -> ${to})`);
    }
  }
  t.true(imports > 100, `only ${imports} imports seen: the scan is broken`);
  t.deepEqual(violations, []);
});
