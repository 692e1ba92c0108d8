// Mints an HS256 token for local use: node bench/token.mjs <sub> [seconds-valid] [vars-file]
// The secret is JWT_SECRET from the vars file (default .dev.vars, the one `make dev` uses). Also imported
// by the web example's dev server (examples/web/serve.mjs) and the client package's tests.
import { createHmac } from "node:crypto";
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

/** The NAME=value lines of a .dev.vars file. */
export function readVars(file) {
  return Object.fromEntries(
    readFileSync(file, "utf8")
      .split("\n")
      .filter((line) => line.includes("=") && !line.trimStart().startsWith("#"))
      .map((line) => [line.slice(0, line.indexOf("=")).trim(), line.slice(line.indexOf("=") + 1).trim()]),
  );
}

/** A token for `sub`, valid `seconds`, signed with `vars.JWT_SECRET` (with its issuer and audience, if set). */
export function mintToken(vars, sub, seconds = 86400) {
  if (!vars.JWT_SECRET) throw new Error("no JWT_SECRET in the vars");
  const part = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
  const claims = { sub, username: sub, exp: Math.floor(Date.now() / 1000) + Number(seconds) };
  if (vars.JWT_ISSUER) claims.iss = vars.JWT_ISSUER;
  if (vars.JWT_AUDIENCE) claims.aud = vars.JWT_AUDIENCE;
  const unsigned = `${part({ alg: "HS256", typ: "JWT" })}.${part(claims)}`;
  return `${unsigned}.${createHmac("sha256", vars.JWT_SECRET).update(unsigned).digest("base64url")}`;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [sub = "alice", seconds = "86400", varsFile = ".dev.vars"] = process.argv.slice(2);
  console.log(mintToken(readVars(varsFile), sub, seconds));
}
