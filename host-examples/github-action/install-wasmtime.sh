#!/usr/bin/env bash
# Installs a pinned wasmtime release after checking its SHA-256, and puts it on PATH.
#   WASMTIME_VERSION   release to install (e.g. 48.0.1)
#   WASMTIME_SHA256    the archive's SHA-256, when this script has none for the version
#   WASMTIME_BASE_URL  mirror of https://github.com/bytecodealliance/wasmtime/releases/download
set -euo pipefail

version="${WASMTIME_VERSION:?WASMTIME_VERSION is required}"
base="${WASMTIME_BASE_URL:-https://github.com/bytecodealliance/wasmtime/releases/download}"
case "$(uname -m)" in
  x86_64 | amd64) arch=x86_64 ;;
  aarch64 | arm64) arch=aarch64 ;;
  *) echo "::error::unsupported runner architecture $(uname -m)"; exit 1 ;;
esac
name="wasmtime-v${version}-${arch}-linux"

# Checksums of the releases this action pins.
expected="${WASMTIME_SHA256:-}"
if [ -z "$expected" ]; then
  case "$name" in
    wasmtime-v48.0.1-x86_64-linux) expected=4c2e31b68ad99e0a519f225a261fda099eb15f056d4a24fdb3c2a46517bde1df ;;
    *) echo "::error::no checksum known for $name: give wasmtime-sha256, or use the default wasmtime-version"; exit 1 ;;
  esac
fi

# The folder is named by the checksum: a cached binary is one that was verified.
dir="${RUNNER_TOOL_CACHE:-${RUNNER_TEMP:-/tmp}}/github-app-kms-token/$name-$expected"
if [ ! -x "$dir/wasmtime" ]; then
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  curl --fail --silent --show-error --location --retry 3 --output "$work/$name.tar.xz" "$base/v$version/$name.tar.xz"
  actual="$(sha256sum "$work/$name.tar.xz" | cut -d' ' -f1)"
  if [ "$actual" != "$expected" ]; then
    echo "::error::checksum mismatch for $name.tar.xz: expected $expected, got $actual"
    exit 1
  fi
  tar -xJf "$work/$name.tar.xz" -C "$work"
  mkdir -p "$dir"
  install -m 0755 "$work/$name/wasmtime" "$dir/wasmtime"
fi
echo "$dir" >> "${GITHUB_PATH:?GITHUB_PATH is required}"
echo "wasmtime $version installed in $dir"
