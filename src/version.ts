import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
/** The package version; librampart.so must carry the same one (rampart_preload_version). */
export const VERSION: string = (require('../package.json') as { version: string }).version;
