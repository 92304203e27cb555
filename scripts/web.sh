#!/usr/bin/env bash
# The browser page: `scripts/web.sh build` writes the static site into web/dist (the page,
# the .wasm, its JS glue and the bundled MNIST), deployable as-is to any static host;
# `scripts/web.sh serve [PORT]` builds it and serves it on http://127.0.0.1:PORT (8080).
#
# Needs the wasm32-unknown-unknown target and wasm-bindgen-cli at the exact version of the
# wasm-bindgen crate in Cargo.lock:
#   rustup target add wasm32-unknown-unknown
#   cargo install wasm-bindgen-cli --version "$(scripts/web.sh wasm-bindgen-version)"
set -euo pipefail
cd "$(dirname "$0")/.."

DIST=web/dist

# The wasm-bindgen version Cargo.lock holds: the CLI must be the same.
locked_version() {
    awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock
}

check_tools() {
    local want have
    want=$(locked_version)
    if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
        echo "error: the wasm32-unknown-unknown target is missing: rustup target add wasm32-unknown-unknown" >&2
        exit 1
    fi
    if ! command -v wasm-bindgen >/dev/null 2>&1; then
        echo "error: wasm-bindgen is not installed: cargo install wasm-bindgen-cli --version $want" >&2
        exit 1
    fi
    have=$(wasm-bindgen --version | awk '{print $2}')
    if [ "$have" != "$want" ]; then
        echo "error: wasm-bindgen $have is installed, but Cargo.lock holds $want: cargo install wasm-bindgen-cli --version $want" >&2
        exit 1
    fi
}

build() {
    check_tools
    cargo build -p wgsl-autoencoder-web --release --target wasm32-unknown-unknown
    rm -rf "$DIST"
    mkdir -p "$DIST/data/mnist"
    wasm-bindgen --target web --no-typescript --out-dir "$DIST" \
        target/wasm32-unknown-unknown/release/wgsl_autoencoder_web.wasm
    cp web/index.html web/style.css web/app.js "$DIST/"
    cp data/mnist/*.gz "$DIST/data/mnist/"
    echo "built $DIST: $(du -sh "$DIST" | cut -f1) (open index.html through a web server, e.g. scripts/web.sh serve)"
}

case "${1:-}" in
build)
    build
    ;;
serve)
    port="${2:-8080}"
    if ! [[ "$port" =~ ^[0-9]+$ ]] || [ "$port" -lt 1 ] || [ "$port" -gt 65535 ]; then
        echo "error: PORT must be a number from 1 to 65535, not '$port'" >&2
        exit 2
    fi
    build
    echo "serving $DIST on http://127.0.0.1:$port (Ctrl-C stops)"
    exec python3 -m http.server "$port" --bind 127.0.0.1 --directory "$DIST"
    ;;
wasm-bindgen-version)
    locked_version
    ;;
*)
    echo "usage: scripts/web.sh build | serve [PORT] | wasm-bindgen-version" >&2
    exit 2
    ;;
esac
