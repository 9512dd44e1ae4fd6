#!/usr/bin/env node
import { Builtins, Cli } from 'clipanion';
import { commands } from './commands/index.ts';
import { VERSION } from './version.ts';

// Colours only on a terminal: help and usage errors piped into a file or an agent stay plain text.
const enableColors = process.stdout.isTTY === true && process.env.NO_COLOR === undefined;
const cli = new Cli({ binaryLabel: 'rampart', binaryName: 'rampart', binaryVersion: VERSION, enableColors });
cli.register(Builtins.HelpCommand);
cli.register(Builtins.VersionCommand);
for (const command of commands) cli.register(command);

void cli.runExit(process.argv.slice(2));
