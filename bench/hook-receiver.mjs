// A before-send hook for bench/hook.sh: answers every POST {"action":"allow"} at once.
//   node bench/hook-receiver.mjs <port-file>
import { createServer } from "node:http";
import { writeFileSync } from "node:fs";

const server = createServer((req, res) => {
  req.on("data", () => {});
  req.on("end", () => {
    res.writeHead(200, { "Content-Type": "application/json" });
    res.end('{"action":"allow"}');
  });
});
server.listen(0, "127.0.0.1", () => writeFileSync(process.argv[2], String(server.address().port)));
