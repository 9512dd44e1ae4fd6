// `npm run pack`: turns a finished `npm run build` into the two tarballs a user installs,
// the main package (`rampart`) and this machine's platform package (`@rampart/core-<platform>`),
// both written to ./pack/. Prints their paths, one per line, main first.
//
// Why a staging directory instead of `npm pack` in the repository:
// - the published package.json lists the platform packages as optionalDependencies (as
//   `napi prepublish` does at publish time); the committed one cannot, because they are not on
//   the registry and `npm ci` would then refuse the lock file;
// - the runtime dependencies are compiled into dist/ by esbuild (scripts/build.ts), so the
//   published package.json lists none and installing the tarball needs nothing from the network
//   (npm 11 resolves a tarball's dependencies from full packuments, which `npm ci` never caches);
// - `npm pack` in the repository would run the `prepare` script (a full build).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const packDir = path.join(root, 'pack');

/** The napi-rs platform tag of this machine (`linux-x64-gnu`, ...), the suffix of the platform package. */
export function hostPlatform(): string {
  const arch = { x64: 'x64', arm64: 'arm64' }[process.arch as string];
  if (!arch) throw new Error(`no platform package for CPU ${process.arch} (x64 and arm64 are built)`);
  if (process.platform === 'darwin') return `darwin-${arch}`;
  if (process.platform === 'linux') {
    const glibc = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header?.glibcVersionRuntime;
    if (!glibc) throw new Error('no platform package for musl libc (glibc Linux and macOS are built)');
    return `linux-${arch}-gnu`;
  }
  throw new Error(`no platform package for ${process.platform} (Linux and macOS are built; on Windows use rampart wrap)`);
}

function readJson(file: string): Record<string, any> {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, any>;
}

function npm(args: string[], cwd: string): string {
  return execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
}

/** `npm pack` in `dir` into ./pack/; returns the tarball's absolute path. */
function npmPack(dir: string): string {
  const [result] = JSON.parse(npm(['pack', '--json', '--ignore-scripts', '--pack-destination', packDir], dir)) as {
    filename: string;
  }[];
  return path.join(packDir, result!.filename);
}

function requireBuilt(file: string): string {
  if (!fs.existsSync(file)) {
    throw new Error(`${path.relative(root, file)} is missing: run \`npm run build\` before \`npm run pack\``);
  }
  return file;
}

/** Checks the library with the addon's verifier (ELF class and machine, exported hooks, version). */
async function verifyLibrary(file: string): Promise<void> {
  const { verifyLibrary: verify } = await import('../src/native/index.ts');
  const report = verify(file, readJson(path.join(root, 'package.json')).version as string);
  if (!report.ok) {
    throw new Error(`${path.relative(root, file)} failed verification:\n  ${report.problems.join('\n  ')}`);
  }
}

/** Copies the build artifacts into npm/<platform>/ and returns that directory. */
async function preparePlatformPackage(platform: string): Promise<string> {
  const dir = path.join(root, 'npm', platform);
  const manifest = readJson(path.join(dir, 'package.json'));
  const libraryName = platform.startsWith('darwin') ? 'librampart.dylib' : 'librampart.so';
  const library = requireBuilt(path.join(root, 'target', 'release', libraryName));
  const addon = requireBuilt(path.join(root, 'native', `rampart.${platform}.node`));
  await verifyLibrary(library);
  fs.copyFileSync(addon, path.join(dir, path.basename(addon)));
  fs.copyFileSync(library, path.join(dir, libraryName));
  for (const file of manifest.files as string[]) requireBuilt(path.join(dir, file));
  return dir;
}

/** A directory holding exactly what the main tarball ships, with the published package.json. */
function stageMainPackage(): string {
  requireBuilt(path.join(root, 'dist', 'cli.js'));
  // Written only by the bundling build: a dist/ from plain tsc would need node_modules at run time.
  requireBuilt(path.join(root, 'dist', 'THIRD-PARTY-NOTICES.txt'));
  const stage = path.join(packDir, 'stage');
  fs.rmSync(stage, { recursive: true, force: true });
  fs.mkdirSync(stage, { recursive: true });

  // What `files` selects, as npm itself computes it.
  const [listing] = JSON.parse(npm(['pack', '--dry-run', '--json', '--ignore-scripts'], root)) as {
    files: { path: string }[];
  }[];
  for (const { path: file } of listing!.files) {
    if (file === 'package.json') continue;
    fs.mkdirSync(path.dirname(path.join(stage, file)), { recursive: true });
    fs.copyFileSync(path.join(root, file), path.join(stage, file));
  }

  const manifest = readJson(path.join(root, 'package.json'));
  const platforms = fs.readdirSync(path.join(root, 'npm')).filter((entry) => fs.existsSync(path.join(root, 'npm', entry, 'package.json')));
  const published: Record<string, unknown> = { ...manifest };
  delete published.scripts; // `prepare` would try to build inside the user's node_modules
  delete published.dependencies; // bundled into dist/ (their licences: dist/THIRD-PARTY-NOTICES.txt)
  delete published.devDependencies;
  delete published.ava;
  published.optionalDependencies = Object.fromEntries(
    platforms.map((platform) => {
      const { name, version } = readJson(path.join(root, 'npm', platform, 'package.json'));
      if (version !== manifest.version) {
        throw new Error(`npm/${platform}/package.json has version ${version}, the package has ${manifest.version}`);
      }
      return [name, version];
    }),
  );
  fs.writeFileSync(path.join(stage, 'package.json'), JSON.stringify(published, null, 2) + '\n');
  return stage;
}

async function main(): Promise<void> {
  const platform = hostPlatform();
  fs.mkdirSync(packDir, { recursive: true });
  const platformDir = await preparePlatformPackage(platform);
  const stage = stageMainPackage();
  const mainTarball = npmPack(stage);
  const platformTarball = npmPack(platformDir);
  fs.rmSync(stage, { recursive: true, force: true });
  process.stdout.write(`${mainTarball}\n${platformTarball}\n`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    process.stderr.write(`pack: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  });
}
