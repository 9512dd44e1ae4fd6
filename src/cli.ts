#!/usr/bin/env node
import { Builtins, Cli } from 'clipanion';
import { commands } from './commands/index.ts';
import { VERSION } from './version.ts';

const cli = new Cli({ binaryLabel: 'rampart', binaryName: 'rampart', binaryVersion: VERSION });
cli.register(Builtins.HelpCommand);
cli.register(Builtins.VersionCommand);
for (const command of commands) cli.register(command);

void cli.runExit(process.argv.slice(2));
