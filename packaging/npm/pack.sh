#!/usr/bin/env bash
# pack.sh VERSION OUTDIR: build the @posagent/client npm package,
# OUTDIR/posagent-client-<version>.tgz, from the very files the agent serves
# (assets/web/posagent.js and posagent.d.ts) plus packaging/npm's
# package.json, README.md and CHANGELOG.md. VERSION is the agent's semantic
# version (the Makefile's VERSION); npm drops its +build part.
set -euo pipefail
version=${1:?usage: pack.sh VERSION OUTDIR}
out=${2:?usage: pack.sh VERSION OUTDIR}
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
command -v npm >/dev/null || { echo "pack.sh: npm is required (apt-get install npm)" >&2; exit 1; }
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
cp "$root/assets/web/posagent.js" "$root/assets/web/posagent.d.ts" "$here/README.md" "$here/CHANGELOG.md" "$stage/"
# The version goes in with node, not sed: package.json stays valid JSON.
node -e 'const fs=require("fs");const p=JSON.parse(fs.readFileSync(process.argv[1]));p.version=process.argv[2];fs.writeFileSync(process.argv[3],JSON.stringify(p,null,2)+"\n")' \
  "$here/package.json" "$version" "$stage/package.json"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
name=$(cd "$stage" && npm pack --loglevel=error --pack-destination "$out" | tail -1)
echo "$out/$name"
