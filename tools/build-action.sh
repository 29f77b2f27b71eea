#!/usr/bin/env bash
# Builds the GitHub Action's dist/ from the component and the Action's
# sources. `make action` and `make check-action` run it:
#
#   tools/build-action.sh COMPONENT ACTION_DIR DIST_DIR GENERATED_DIR
#
#   COMPONENT      the built component (dist/github-app-kms-token.wasm)
#   ACTION_DIR     the Action's folder: action.yml, src/, package-lock.json
#   DIST_DIR       where the bundles are written (emptied first)
#   GENERATED_DIR  where the generated sources are written: GENERATED_DIR/action.yml
#                  and GENERATED_DIR/src/generated.js. ACTION_DIR itself for
#                  `make action`; a folder under target/ for `make
#                  check-action`, which compares them with the committed ones.
#
# Paths are taken from the repository's root, where the script runs (the
# bundles carry no paths, but esbuild names their chunks from what it sees).
#
# What it writes into DIST_DIR: the Action's own JS (ACTION_DIR/src/, which
# imports ./generated.js and the component as jco transpiles it into
# ACTION_DIR/build/) bundled by esbuild with @actions/core and the WASI shim
# (as ES modules, with a `require` for the CommonJS parts;
# ACTION_DIR/src/bundle/ says what is left out); the core module beside it;
# the shim's I/O worker bundled as CommonJS (its `require`s load Node's
# modules without the fetch stack that an ES import of node:http pulls in);
# and NOTICES.txt, the licences of the third-party code in the bundles. jco
# and esbuild are pinned in tools/, the runtime dependencies in the Action's
# own lock file.
set -euo pipefail

if [ $# -ne 4 ]; then
	echo "usage: $0 COMPONENT ACTION_DIR DIST_DIR GENERATED_DIR" >&2
	exit 2
fi
component=$1 action=$2 dist=$3 generated=$4
cd "$(dirname "$0")/.."
tools=tools/node_modules/.bin

# esbuild takes an alias as a path only when it starts with ./ or /.
path() { case $1 in /*) echo "$1" ;; *) echo "./$1" ;; esac; }

# The metafiles esbuild writes, for the notices; removed on exit.
meta=$(mktemp -d)
trap 'rm -rf "$meta"' EXIT

# The Action's runtime dependencies, from its lock file.
test -d "$action/node_modules/@actions/core" || npm ci --prefix "$action" --no-audit --no-fund

# The generated sources: action.yml's permission-* inputs and src/generated.js,
# from the component's own lists.
cargo run --quiet -p action-tests --bin generate -- "$action" "$generated"

# The component as JavaScript, and the bundles.
rm -rf "$action/build" "$dist"
"$tools/jco" transpile "$component" --name github-app-kms-token -o "$action/build" --no-typescript --quiet \
	--valid-lifting-optimization
"$tools/esbuild" "$action/src/main.js" "$action/src/post.js" --bundle --platform=node --format=esm \
	--splitting --minify --target=node20 --legal-comments=none --log-level=warning \
	--banner:js="import{createRequire}from'node:module';const require=createRequire(import.meta.url);" \
	--alias:@actions/http-client="$(path "$action/src/bundle/http-client")" \
	--alias:@actions/exec="$(path "$action/src/bundle/exec")" \
	--alias:node:http="$(path "$action/src/bundle/node-http.js")" \
	--alias:@bytecodealliance/preview2-shim/http="$(path "$action/src/bundle/shim-http.js")" \
	--outdir="$dist" --out-extension:.js=.mjs --metafile="$meta/main.json"
"$tools/esbuild" "$action/node_modules/@bytecodealliance/preview2-shim/dist/io/worker-thread.js" \
	--bundle --platform=node --format=cjs --minify --target=node20 --legal-comments=none --log-level=warning \
	--define:import.meta.url=import_meta_url \
	"--banner:js=const import_meta_url=require('node:url').pathToFileURL(__filename).href;" \
	--alias:node:http="$(path "$action/src/bundle/proxy-http.cjs")" \
	--alias:node:https="$(path "$action/src/bundle/proxy-https.cjs")" \
	--outfile="$dist/worker-thread.bundle.js" --metafile="$meta/worker.json"

# The licences; a package.json that makes the worker's .js bundle CommonJS
# (the .mjs bundles are ES modules by their name); the core module that
# jco's bindings load.
node tools/notices.mjs "$meta/main.json" "$meta/worker.json" > "$dist/NOTICES.txt"
echo '{"type": "commonjs"}' > "$dist/package.json"
cp "$action/build/github-app-kms-token.core.wasm" "$dist/"
