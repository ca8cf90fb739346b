// A browser-style WebSocket client for TestWSNodeClient: Node's built-in
// WebSocket is the WHATWG API browsers have, so like a browser it cannot
// set an Authorization header. It passes the token as asked, sends COUNT
// readings shaped like PAYLOADS.md's generic JSON, closes normally and
// exits 0; any failure exits non-zero with a line on stderr.
//
//   node [--experimental-websocket] ws_client.mjs URL TOKEN query|protocol COUNT
//
// query:    URL?token=TOKEN
// protocol: subprotocols ["edgeplane", "token.TOKEN"]; the server must
//           select "edgeplane" (never echo the token entry).
const [url, token, mode, countArg] = process.argv.slice(2);
const count = Number(countArg);
if (typeof WebSocket !== "function") {
  console.error("this node has no global WebSocket");
  process.exit(3);
}
const fail = (code, msg) => {
  console.error(msg);
  process.exit(code);
};
setTimeout(() => fail(5, "timed out"), 20000).unref();

let ws;
if (mode === "query") {
  ws = new WebSocket(url + (url.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(token));
} else if (mode === "protocol") {
  ws = new WebSocket(url, ["edgeplane", "token." + token]);
} else {
  fail(2, "mode must be query or protocol, not " + mode);
}
let opened = false;
ws.onopen = () => {
  opened = true;
  if (mode === "protocol" && ws.protocol !== "edgeplane") {
    fail(4, "server selected subprotocol " + JSON.stringify(ws.protocol) + ", want \"edgeplane\"");
  }
  const id = url.split("/").pop();
  const t0 = Date.now();
  for (let i = 0; i < count; i++) {
    ws.send(JSON.stringify({ id, ts: t0 + i, pm25: 10 + i / 10, temp: 21.5 }));
  }
  ws.close(1000, "done");
};
ws.onerror = (e) => fail(opened ? 6 : 7, "websocket error: " + (e.message || e.type));
ws.onclose = (e) => {
  if (e.code !== 1000) fail(8, "closed with " + e.code + " " + e.reason);
  process.exit(0);
};
