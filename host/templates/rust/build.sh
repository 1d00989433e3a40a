#!/usr/bin/env bash
# Build {{name}}.wasm: compile for wasm32-unknown-unknown (no WASI: the
# plugin imports only the contract), then make the core module a component.
set -euo pipefail
cd "$(dirname "$0")"
WASP_ROOT="${WASP_ROOT:-{{wasp_root}}}"
rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown \
    || rustup target add wasm32-unknown-unknown
cargo build --release --target wasm32-unknown-unknown
target="${CARGO_TARGET_DIR:-target}"
here="$PWD"
core="$(cd "$target/wasm32-unknown-unknown/release" && pwd)/{{crate}}.wasm"
# wasm-tools' `component new`, as the wasp checkout's component-tools
# (built there on first use, in the checkout's own target dir).
source "$WASP_ROOT/scripts/lib/component-tools.sh"
component_tool component new "$core" -o "$here/{{name}}.wasm"
echo "built {{name}}.wasm ($(stat -c %s {{name}}.wasm) bytes)"
