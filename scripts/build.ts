// `npm run build:ts`: bundles the CLI (src/cli.ts) into dist/ with esbuild.
//
// Why a bundle instead of tsc's one-file-per-module output: `rampart preload` is on the path of
// every agent start, and Node's ESM loader spends most of the CLI's start-up resolving, reading
// and compiling the ~200 small files of src/ and the runtime dependencies (got alone is ~100).
// benchmark/cli.ts prints the figures. Type checking stays with `tsc --noEmit` (npm run lint).
//
// - ESM with code splitting: the dynamic import() inside each command's execute() becomes its own
//   chunk, so a command still loads only what it runs.
// - The runtime dependencies are bundled too (got, clipanion, typanion, yaml): the published
//   package needs no node_modules of its own (scripts/pack.ts). Their licence texts go to
//   dist/THIRD-PARTY-NOTICES.txt.
// - The native addon is never bundled: src/native/index.ts requires native/binding.cjs at run
//   time through createRequire, with a path computed from the package root.
// - Bundled CommonJS dependencies call require() for Node built-ins; ESM has none, so each chunk
//   gets one from createRequire (the banner).
import * as esbuild from 'esbuild';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outdir = path.join(root, 'dist');

/**
 * @sindresorhus/is (a got dependency) builds two Intl.ListFormat objects when it is loaded, only
 * to word the message of a failed assertion; loading ICU's list patterns costs ~10 ms of every
 * start. This creates each one on first use instead. If a new version no longer has the line,
 * the build says so and goes on unchanged (only slower).
 */
const lazyListFormat: esbuild.Plugin = {
  name: 'lazy-intl-listformat',
  setup(build) {
    let rewritten = 0;
    build.onStart(() => {
      rewritten = 0;
    });
    build.onLoad({ filter: /[\\/]node_modules[\\/]@sindresorhus[\\/]is[\\/].*\.js$/ }, (args) => {
      const source = fs.readFileSync(args.path, 'utf8');
      const eager = /^(const|let|var) (\w+) = new Intl\.ListFormat\(([^()]*)\);$/gm;
      if (!eager.test(source)) return undefined;
      rewritten++;
      const contents = source.replace(
        eager,
        (_line, _kind: string, name: string, options: string) =>
          `let ${name}Instance; const ${name} = { format: (list) => (${name}Instance ??= new Intl.ListFormat(${options})).format(list) };`,
      );
      return { contents, loader: 'js' };
    });
    build.onEnd(() => {
      if (rewritten === 0) {
        process.stderr.write('build: note: @sindresorhus/is no longer builds Intl.ListFormat at load; the lazy-intl-listformat plugin can go\n');
      }
    });
  },
};

/**
 * got imports http2-wrapper for its `http2` option, which rampart never sets; loading it costs
 * ~10 ms of every start (it loads node:http2 and builds a TLS socket to reach an internal class).
 * got only reads its `globalAgent` and `auto` (with http2 on), so it gets a stand-in that loads
 * the real module on first use of either.
 */
const lazyHttp2Wrapper: esbuild.Plugin = {
  name: 'lazy-http2-wrapper',
  setup(build) {
    build.onResolve({ filter: /^http2-wrapper$/ }, (args) =>
      /[\\/]node_modules[\\/]got[\\/]/.test(args.importer)
        ? { path: 'http2-wrapper', namespace: 'lazy-http2-wrapper', pluginData: args.resolveDir }
        : undefined,
    );
    build.onLoad({ filter: /.*/, namespace: 'lazy-http2-wrapper' }, (args) => ({
      contents: `let real;
        const load = () => (real ??= require('http2-wrapper'));
        export default {
          get globalAgent() { return load().globalAgent; },
          get auto() { return load().auto; },
        };`,
      resolveDir: args.pluginData as string,
      loader: 'js',
    }));
  },
};

/** Concatenates the licence of every bundled package into one notices file. */
function writeNotices(metafile: esbuild.Metafile): void {
  const packages = new Set<string>();
  for (const input of Object.keys(metafile.inputs)) {
    const match = /(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input);
    if (match) packages.add(input.slice(0, match.index + match[0].length - 1));
  }
  const sections = [...packages].sort().map((dir) => {
    const manifest = JSON.parse(fs.readFileSync(path.join(root, dir, 'package.json'), 'utf8')) as {
      name: string;
      version: string;
      license?: string;
    };
    const licenceFile = fs.readdirSync(path.join(root, dir)).find((file) => /^(licen[cs]e|copying)(\.|$)/i.test(file));
    const text = licenceFile
      ? fs.readFileSync(path.join(root, dir, licenceFile), 'utf8').trim()
      : `(no licence file in the package; package.json says: ${manifest.license ?? 'nothing'})`;
    return `${manifest.name}@${manifest.version} (${manifest.license ?? 'unknown licence'})\n\n${text}\n`;
  });
  const header = 'rampart bundles the following packages into dist/. Their licences follow.\n';
  fs.writeFileSync(path.join(outdir, 'THIRD-PARTY-NOTICES.txt'), [header, ...sections].join('\n' + '-'.repeat(72) + '\n\n'));
}

async function main(): Promise<void> {
  fs.rmSync(outdir, { recursive: true, force: true });
  const result = await esbuild.build({
    absWorkingDir: root,
    entryPoints: ['src/cli.ts'],
    outdir,
    chunkNames: 'chunks/[name]-[hash]',
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    // Whitespace and syntax only: identifiers keep their names, so stack traces stay readable.
    minifyWhitespace: true,
    minifySyntax: true,
    banner: {
      js: "import { createRequire as __rampartCreateRequire } from 'node:module'; const require = __rampartCreateRequire(import.meta.url);",
    },
    plugins: [lazyListFormat, lazyHttp2Wrapper],
    metafile: true,
    logLevel: 'warning',
  });
  if (result.errors.length > 0 || result.warnings.length > 0) {
    throw new Error('esbuild reported problems (printed above)');
  }
  writeNotices(result.metafile);
}

main().catch((error: unknown) => {
  process.stderr.write(`build: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
