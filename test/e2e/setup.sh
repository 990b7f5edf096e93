#!/usr/bin/env bash
# Installs what the end-to-end tests need to run a real VS Code offline (see
# ../shared/docs/e2e-code-server.md): Debian's chromium, Kerberos headers for code-server's native
# modules, Node 24 from the npm registry and code-server from npm, built against Node 24.
# Idempotent: a second run only checks that everything is in place (a second or two).
set -euo pipefail

CODE_SERVER_VERSION=4.139.1
NODE_MAJOR=24

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
E2E="$ROOT/.e2e"
NODE_DIR="$E2E/node24"
CS_DIR="$E2E/code-server"
STAMP="$E2E/setup.stamp"
STAMP_TEXT="code-server@$CODE_SERVER_VERSION node@$NODE_MAJOR"

log() { echo "[e2e setup] $*" >&2; }

# Run from `npm test`, this script inherits the outer npm's npm_* variables, and npm reads
# npm_config_* from the environment as its own settings: the nested installs below would claim the
# outer npm's user agent (`node/v20`, which code-server's postinstall rejects) and its prefixes.
# Start the nested npm from a clean slate.
while IFS= read -r v; do unset "$v"; done < <(compgen -e | grep -i '^npm_' || true)

SUDO=()
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null; then SUDO=(sudo); fi
fi

node24_bin() { echo "$NODE_DIR/node_modules/node/bin/node"; }
# The `node` package installs its platform binary package (headers included) next to itself or
# nested under it, depending on how npm hoists; find whichever is there.
node24_headers() {
  local d
  for d in "$NODE_DIR"/node_modules/node/node_modules/node-linux-* "$NODE_DIR"/node_modules/node-linux-*; do
    if [ -f "$d/include/node/node.h" ]; then echo "$d"; return 0; fi
  done
  return 1
}
code_server_bin() { echo "$CS_DIR/node_modules/code-server/out/node/entry.js"; }

all_done() {
  [ -x /usr/bin/chromium ] &&
    dpkg -s libkrb5-dev >/dev/null 2>&1 &&
    [ -x "$(node24_bin)" ] &&
    [ -f "$(code_server_bin)" ] &&
    [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$STAMP_TEXT" ]
}

if all_done; then
  log "already set up ($STAMP_TEXT, $(/usr/bin/chromium --version 2>/dev/null || echo chromium))"
  exit 0
fi

start=$(date +%s)
mkdir -p "$E2E"

# --- Debian packages -------------------------------------------------------------------------
if ! [ -x /usr/bin/chromium ] || ! dpkg -s libkrb5-dev >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  # Update the package lists only when they are missing or the install fails with the ones there.
  if ! ls /var/lib/apt/lists/*_Packages* >/dev/null 2>&1; then
    log "apt-get update (no package lists)"
    "${SUDO[@]}" apt-get update
  fi
  log "apt-get install chromium libkrb5-dev"
  if ! "${SUDO[@]}" apt-get install -y --no-install-recommends chromium libkrb5-dev; then
    log "install failed; apt-get update and retry"
    "${SUDO[@]}" apt-get update
    "${SUDO[@]}" apt-get install -y --no-install-recommends chromium libkrb5-dev
  fi
fi

# --- Node 24 from the npm registry -----------------------------------------------------------
if ! [ -x "$(node24_bin)" ] || ! node24_headers >/dev/null; then
  log "installing node@$NODE_MAJOR into $NODE_DIR"
  mkdir -p "$NODE_DIR"
  [ -f "$NODE_DIR/package.json" ] || echo '{ "private": true }' > "$NODE_DIR/package.json"
  (cd "$NODE_DIR" && npm install --no-audit --no-fund --loglevel=error "node@$NODE_MAJOR")
fi
NODE24="$(node24_bin)"
HEADERS="$(node24_headers)" || { log "Node $NODE_MAJOR headers not found under $NODE_DIR"; exit 1; }
log "node $("$NODE24" --version), headers in $HEADERS"

# --- code-server, native modules built against Node 24 ---------------------------------------
if ! [ -f "$(code_server_bin)" ] || ! [ -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$STAMP_TEXT" ]; then
  log "installing code-server@$CODE_SERVER_VERSION into $CS_DIR (native modules compile from source: minutes)"
  mkdir -p "$CS_DIR"
  [ -f "$CS_DIR/package.json" ] || echo '{ "private": true }' > "$CS_DIR/package.json"
  # Node 24 first on PATH so install scripts and node-gyp target it; npm_config_nodedir overrides
  # a user npmrc that points node-gyp at another Node's headers.
  (
    cd "$CS_DIR"
    export PATH="$(dirname "$NODE24"):$PATH"
    export npm_config_nodedir="$HEADERS"
    npm install --no-audit --no-fund --foreground-scripts "code-server@$CODE_SERVER_VERSION"
  )
fi
[ -f "$(code_server_bin)" ] || { log "code-server entry point missing after install"; exit 1; }
echo "$STAMP_TEXT" > "$STAMP"

log "done in $(( $(date +%s) - start )) s"
