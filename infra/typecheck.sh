#!/usr/bin/env bash
# Type-checks sst.config.ts and infra/ against SST's real component types, offline and without AWS (`npm run typecheck:infra`).
#
# `sst install` writes .sst/platform (SST's component sources, @pulumi/aws, TypeScript 5.7, @types/node 22)
# and .sst/platform/config.d.ts, which declares the globals (sst, aws, $app, $config...) for sst.config.ts.
# It needs bun (it runs `bun install` for the platform) at ~/.config/sst/bin/bun and would otherwise download
# it; SST_SKIP_DEPENDENCY_CHECK=1 stops it from downloading Pulumi, which only `sst deploy` needs.
# Everything comes from the npm registry (sst and bun are devDependencies). Safe to run again: a warm run
# reuses .sst/platform.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { echo "typecheck:infra: $*" >&2; }

find_bun() {
  local c
  for c in node_modules/@oven/bun-*/bin/bun node_modules/bun/bin/bun.exe; do
    if [ -x "$c" ] && "$c" --version >/dev/null 2>&1; then
      echo "$PWD/$c"
      return 0
    fi
  done
  return 1
}

# 1. bun for SST. The bun package's postinstall moves the platform binary into node_modules/bun/bin; when
#    npm skipped it (install scripts not allowed), run it now.
if ! bun_bin=$(find_bun); then
  if [ ! -f node_modules/bun/install.js ]; then
    log "the bun devDependency is missing: run npm install (or npm ci) first"
    exit 1
  fi
  node node_modules/bun/install.js >/dev/null
  bun_bin=$(find_bun) || { log "no working bun binary in node_modules after running bun's install.js"; exit 1; }
fi
sst_bun="$HOME/.config/sst/bin/bun"
# Leave a working bun that SST (or a person) put there alone; replace a missing or broken one.
if ! { [ -x "$sst_bun" ] && "$sst_bun" --version >/dev/null 2>&1; }; then
  mkdir -p "$(dirname "$sst_bun")"
  ln -sfn "$bun_bin" "$sst_bun"
  log "linked $sst_bun -> $bun_bin"
fi

# 2. SST's platform and generated types (about 20 s into an empty .sst, a few seconds when warm).
install_log=$(mktemp)
trap 'rm -f "$install_log"' EXIT
if ! SST_SKIP_DEPENDENCY_CHECK=1 SST_TELEMETRY_DISABLED=1 npx --no-install sst install --stage ci >"$install_log" 2>&1; then
  cat "$install_log" >&2
  log "sst install failed (see above)"
  exit 1
fi
[ -f .sst/platform/config.d.ts ] || { log "sst install wrote no .sst/platform/config.d.ts"; exit 1; }

# 3. The platform's own compiler (TypeScript 5.7) with its @types/node 22, as SST builds its sources.
tsc=.sst/platform/node_modules/typescript/bin/tsc
[ -f "$tsc" ] || { log "no TypeScript in .sst/platform/node_modules; delete .sst and run again"; exit 1; }
node "$tsc" -p tsconfig.infra.json
log "ok (TypeScript $(node "$tsc" --version | cut -d' ' -f2), sst $(node -p 'require("./node_modules/sst/package.json").version'))"
