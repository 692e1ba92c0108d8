// Writes the OpenAPI document, minified (key order kept), as the static asset the worker serves at
// /openapi.json through its ASSETS binding (wrangler.toml [assets]): the document stays out of the wasm.
//
//   node .ci/openapi-asset.mjs src/openapi.json build/assets/openapi.json
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";

const [source, target] = process.argv.slice(2);
const text = JSON.stringify(JSON.parse(readFileSync(source, "utf8")));
mkdirSync(dirname(target), { recursive: true });
writeFileSync(`${target}.tmp`, text);
renameSync(`${target}.tmp`, target);
console.log(`${target}: ${text.length} bytes`);
