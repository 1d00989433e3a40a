#!/usr/bin/env bash
# Build {{name}}.wasm: bindings from wit/ with `wit-bindgen c`, compile with
# clang against wasi-libc as a reactor, then `wasm-tools component new` with
# the WASI preview 1 reactor adapter. The tools come from the wasp checkout
# (`cargo xtask plugins` installs them, pinned, into .wasp/tools) and from
# apt: clang lld wasi-libc libclang-rt-dev-wasm32.
set -euo pipefail
cd "$(dirname "$0")"
WASP_ROOT="${WASP_ROOT:-{{wasp_root}}}"
tools="$WASP_ROOT/.wasp/tools"
adapter="$(ls "$tools"/wasi_snapshot_preview1.reactor-*.wasm 2>/dev/null | tail -1 || true)"
if [[ ! -x "$tools/bin/wit-bindgen" || ! -x "$tools/bin/wasm-tools" || -z "$adapter" ]]; then
    echo "wit-bindgen, wasm-tools or the WASI adapter is missing: run \`cargo xtask plugins\` in $WASP_ROOT once" >&2
    exit 1
fi
mkdir -p build
"$tools/bin/wit-bindgen" c wit --world plugin --out-dir build >/dev/null 2>&1
sources=()
for f in *.c; do [[ "$f" == test_* ]] || sources+=("$f"); done
clang --target=wasm32-wasi --sysroot=/usr -std=c11 -O2 -Wall -mexec-model=reactor -s -Ibuild -I. \
    -o build/{{name}}.core.wasm build/plugin.c build/plugin_component_type.o "${sources[@]}"
"$tools/bin/wasm-tools" component new build/{{name}}.core.wasm \
    --adapt "wasi_snapshot_preview1=$adapter" -o {{name}}.wasm
echo "built {{name}}.wasm ($(stat -c %s {{name}}.wasm) bytes)"
