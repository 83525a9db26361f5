#!/usr/bin/env node
// Thin launcher: the commands live in src/server/cli.ts (tested without a build) and
// ship in the server bundle, so this file only forwards argv and the exit code.
import('../dist/server.js')
  .then((m) => m.runCli(process.argv.slice(2)))
  .then((code) => {
    process.exitCode = code;
  })
  .catch((e) => {
    // Only the bundle itself missing means "build first"; a dependency missing from inside it
    // ("Cannot find package 'fflate' imported from …/dist/server.js") is reported as it is.
    const missing = e && e.code === 'ERR_MODULE_NOT_FOUND' && /Cannot find module '[^']*dist[\\/]server\.js'/.test(String(e.message));
    process.stderr.write(`sealed-rpc: ${missing ? 'dist/server.js not found; run `npm run build` first' : e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  });
