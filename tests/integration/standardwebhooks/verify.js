// verify.js -- checks deliveries the tests recorded with npm's standardwebhooks, the library an
// application would use: an implementation of the signature that is not boardhook's.
//
// Usage: node verify.js SECRET... < requests (NODE_PATH: the node_modules of `npm ci` here)
// stdin: one JSON object a line, {"headers": {"webhook-id", "webhook-timestamp",
// "webhook-signature"}, "body": base64 of the body as received}.
// stdout: one line per request, {"verified": [bool per SECRET], "errors": [message or null]}.
"use strict";
const { Webhook } = require("standardwebhooks");
const readline = require("node:readline");

const secrets = process.argv.slice(2);
if (secrets.length === 0) {
  process.stderr.write("usage: node verify.js SECRET... < requests\n");
  process.exit(2);
}
const hooks = secrets.map((secret) => new Webhook(secret));

const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
lines.on("line", (line) => {
  if (!line.trim()) return;
  const request = JSON.parse(line);
  const body = Buffer.from(request.body, "base64");
  const verified = [];
  const errors = [];
  for (const hook of hooks) {
    try {
      // The body as bytes, not parsed: the signature covers exactly what was sent.
      hook.verify(body, request.headers, { jsonParse: false });
      verified.push(true);
      errors.push(null);
    } catch (error) {
      verified.push(false);
      errors.push(String(error.message || error));
    }
  }
  process.stdout.write(JSON.stringify({ verified, errors }) + "\n");
});
