#!/usr/bin/env node
/**
 * `node dist/main.js [run] [--quick] [--out FILE] [--history DIR] [--filter S]… | compare A B`: the
 * bench's command line (`runBenchCli`, also behind `hvspec bench`); `--help` lists the options.
 * @module
 */
import { runBenchCli } from './cli.js';

process.exitCode = await runBenchCli(process.argv.slice(2));
