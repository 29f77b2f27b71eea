// Writes the licence notices of the third-party code in a bundle: every npm
// package with a file in one of esbuild's metafiles. (The helpers jco writes
// into the bindings need none: its LLVM exception covers them.) `make action`
// writes the result to the Action's dist/NOTICES.txt.
//
//   node tools/notices.mjs METAFILE...

import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";

const metafiles = process.argv.slice(2);

// The folder of the package each bundled file belongs to (the last
// `node_modules/` segment, with the scope for scoped packages).
const packages = new Set();
for (const metafile of metafiles) {
  for (const input of Object.keys(JSON.parse(readFileSync(metafile, "utf8")).inputs)) {
    const at = input.lastIndexOf("node_modules/");
    if (at < 0) continue;
    const [scope, name] = input.slice(at + "node_modules/".length).split("/");
    packages.add(input.slice(0, at) + "node_modules/" + (scope.startsWith("@") ? `${scope}/${name}` : scope));
  }
}

const notices = [...packages].map((dir) => {
  const { name, version, license } = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
  const file = readdirSync(dir).find((f) => /^(licen[cs]e|copying)/i.test(f));
  if (!file) throw new Error(`${name} has no licence file`);
  return { name, text: `${name} ${version}\nLicense: ${license}\n\n${readFileSync(join(dir, file), "utf8").trim()}\n` };
});
notices.sort((a, b) => (a.name < b.name ? -1 : 1));

const rule = "-".repeat(78);
process.stdout.write(
  "This Action bundles the following third-party code, under the licences below.\n" +
    "The rest of dist/ is github-app-kms-token (Apache-2.0, see LICENSE at the repository's root),\n" +
    "whose component is compiled from the Rust crates in its Cargo.lock, each under its own licence.\n\n" +
    notices.map((n) => `${rule}\n${n.text}`).join("\n"),
);
