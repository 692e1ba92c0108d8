// `npm test` for the web example: makes sure Debian's Chromium is there (installing the `chromium`
// package when it is not: apt-get as root, else through sudo), then runs the browser tests.
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import { chromiumPath } from "./browser.mjs";

function apt(...args) {
  const asRoot = process.getuid?.() === 0;
  const command = asRoot ? "apt-get" : "sudo";
  const full = asRoot ? args : ["-n", "apt-get", ...args];
  const run = spawnSync(command, full, { stdio: "inherit", env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
  return run.status === 0;
}

if (!chromiumPath()) {
  console.log("Chromium is not installed: installing Debian's chromium package");
  const install = () => apt("install", "-y", "--no-install-recommends", "chromium");
  if (!install() && !(apt("update") && install())) {
    console.error("could not install chromium (apt-get install chromium, as root)");
    process.exit(1);
  }
  if (!chromiumPath()) {
    console.error("chromium installed, but no /usr/bin/chromium");
    process.exit(1);
  }
}

const here = dirname(fileURLToPath(import.meta.url));
const files = readdirSync(here)
  .filter((f) => f.endsWith(".test.mjs"))
  .map((f) => join(here, f));
const flags = typeof WebSocket === "undefined" ? ["--experimental-websocket"] : [];
const run = spawnSync(process.execPath, [...flags, "--test", "--test-reporter=spec", ...files], { stdio: "inherit" });
process.exit(run.status ?? 1);
