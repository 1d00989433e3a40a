#!/usr/bin/env bash
# Build {{name}}.wasm: bindings from wit/ with `wit-bindgen c`, compile with
# clang against wasi-libc as a reactor, then `wasm-tools component new` with
# the WASI preview 1 reactor adapter. The binding generator and component
# encoder are the wasp checkout's component-tools (built there on first
# use), the adapter is in its .wasp/tools (`cargo xtask plugins` fetches it),
# the compiler comes from apt: clang lld wasi-libc libclang-rt-dev-wasm32.
set -euo pipefail
cd "$(dirname "$0")"
WASP_ROOT="${WASP_ROOT:-{{wasp_root}}}"
tools="$WASP_ROOT/.wasp/tools"
adapter="$(ls "$tools"/wasi_snapshot_preview1.reactor-*.wasm 2>/dev/null | tail -1 || true)"
if [[ -z "$adapter" ]]; then
    echo "the WASI adapter is missing: run \`cargo xtask plugins\` in $WASP_ROOT once" >&2
    exit 1
fi
# component_tool: the checkout's component-tools, in its own target dir.
source "$WASP_ROOT/scripts/lib/component-tools.sh"
here="$PWD"
mkdir -p build
component_tool wit-bindgen c "$here/wit" --world plugin --out-dir "$here/build"
sources=()
for f in *.c; do [[ "$f" == test_* ]] || sources+=("$f"); done
clang --target=wasm32-wasi --sysroot=/usr -std=c11 -O2 -Wall -mexec-model=reactor -s -Ibuild -I. \
    -o build/{{name}}.core.wasm build/plugin.c build/plugin_component_type.o "${sources[@]}"
component_tool component new "$here/build/{{name}}.core.wasm" \
    --adapt "wasi_snapshot_preview1=$adapter" -o "$here/{{name}}.wasm"
echo "built {{name}}.wasm ($(stat -c %s {{name}}.wasm) bytes)"
