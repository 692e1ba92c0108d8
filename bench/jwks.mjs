// A key server for the identity-provider benchmark: makes an RSA key pair, serves its public key as a
// JWKS on loopback, and writes an RS256 token for <sub> to <token file>. Runs until killed.
//   node bench/jwks.mjs <port file> <token file> [sub]
import { generateKeyPairSync, createSign } from "node:crypto";
import { createServer } from "node:http";
import { writeFileSync } from "node:fs";

const [portFile, tokenFile, sub = "alice"] = process.argv.slice(2);
const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
const jwk = { ...publicKey.export({ format: "jwk" }), kid: "bench-1", alg: "RS256", use: "sig" };
const server = createServer((_, res) => {
  res.writeHead(200, { "Content-Type": "application/json", "Cache-Control": "public, max-age=3600" });
  res.end(JSON.stringify({ keys: [jwk] }));
});
server.listen(0, "127.0.0.1", () => {
  const part = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
  const claims = { sub, username: sub, exp: Math.floor(Date.now() / 1000) + 3600 };
  const unsigned = `${part({ alg: "RS256", typ: "JWT", kid: "bench-1" })}.${part(claims)}`;
  const signature = createSign("RSA-SHA256").update(unsigned).sign(privateKey).toString("base64url");
  writeFileSync(tokenFile, `${unsigned}.${signature}`);
  writeFileSync(portFile, String(server.address().port));
});
