// Removes the `name` custom section (function names for stack traces, about a third of the gzipped
// wasm) from the wasm that worker-build leaves in build/. wasm-bindgen keeps that section and
// worker-build offers no flag to drop it; nothing at run time reads it. Every other section is
// copied byte for byte. The file is replaced by a rename, so a running `wrangler dev` never sees a
// half-written module.
//
//   node .ci/strip-wasm-names.mjs build/index_bg.wasm
import { readFileSync, renameSync, writeFileSync } from "node:fs";

const path = process.argv[2];
const wasm = readFileSync(path);
if (wasm.readUInt32LE(0) !== 0x6d736100) throw new Error(`${path} is not a wasm module`);

function leb128(at) {
  let value = 0, shift = 0, byte;
  do {
    byte = wasm[at++];
    value += (byte & 0x7f) * 2 ** shift;
    shift += 7;
  } while (byte & 0x80);
  return [value, at];
}

const kept = [wasm.subarray(0, 8)];
let removed = 0;
for (let at = 8; at < wasm.length; ) {
  const id = wasm[at];
  const [size, body] = leb128(at + 1);
  const end = body + size;
  if (end > wasm.length) throw new Error(`${path}: section at ${at} runs past the end`);
  let drop = false;
  if (id === 0) {
    const [nameLength, name] = leb128(body);
    drop = wasm.toString("utf8", name, name + nameLength) === "name";
  }
  if (drop) removed += end - at;
  else kept.push(wasm.subarray(at, end));
  at = end;
}
const out = Buffer.concat(kept);
writeFileSync(`${path}.tmp`, out);
renameSync(`${path}.tmp`, path);
console.log(`${path}: ${wasm.length} -> ${out.length} bytes (name section: ${removed})`);
