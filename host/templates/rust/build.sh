#!/usr/bin/env bash
# Build {{name}}.wasm: compile for wasm32-unknown-unknown (no WASI: the
# plugin imports only the contract), then make the core module a component.
set -euo pipefail
cd "$(dirname "$0")"
WASP_ROOT="${WASP_ROOT:-{{wasp_root}}}"
wasm_tools="${WASM_TOOLS:-$WASP_ROOT/.wasp/tools/bin/wasm-tools}"
if [[ ! -x "$wasm_tools" ]]; then
    echo "wasm-tools is missing: run \`cargo xtask plugins\` in $WASP_ROOT once (it installs the pinned tools), or set WASM_TOOLS" >&2
    exit 1
fi
rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown \
    || rustup target add wasm32-unknown-unknown
cargo build --release --target wasm32-unknown-unknown
target="${CARGO_TARGET_DIR:-target}"
"$wasm_tools" component new "$target/wasm32-unknown-unknown/release/{{crate}}.wasm" -o {{name}}.wasm
echo "built {{name}}.wasm ($(stat -c %s {{name}}.wasm) bytes)"
