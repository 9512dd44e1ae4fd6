import fs from 'node:fs';
import path from 'node:path';
import { packageRoot } from './util/paths.ts';

/** The package version; librampart.so must carry the same one (rampart_preload_version). */
export const VERSION: string = (JSON.parse(fs.readFileSync(path.join(packageRoot, 'package.json'), 'utf8')) as { version: string }).version;
