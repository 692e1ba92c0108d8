// `npm test`: the package's tests under node:test, against a real `wrangler dev` each test file starts
// (test/server.mjs). Node 20 has WebSocket behind a flag; later Nodes have it on.
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const files = readdirSync(here)
  .filter((f) => f.endsWith(".test.mjs"))
  .map((f) => join(here, f));
const flags = typeof WebSocket === "undefined" ? ["--experimental-websocket"] : [];
const run = spawnSync(process.execPath, [...flags, "--test", "--test-reporter=spec", ...files, ...process.argv.slice(2)], {
  stdio: "inherit",
});
process.exit(run.status ?? 1);
