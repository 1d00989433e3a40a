# Sourced by scripts/build-c-plugins and scripts/build-go-plugins: what
# turns a core Wasm module into a wasp component. After
# `component_tools "$root"`:
#   component_tool wit-bindgen c|go …    the C and Go guest bindings
#                                        (wit-bindgen-cli's generators)
#   component_tool component embed|new … wasm-tools' `component embed` and
#                                        `component new` (wit-component), the
#                                        result validated with every feature
#   $adapter                             the WASI preview 1 reactor adapter
#                                        of the host's wasmtime
# Versions are in COMPONENT_TOOLS; they go into the build stamps.

WIT_BINDGEN_VERSION=0.63.0
WIT_COMPONENT_VERSION=0.262.0
ADAPTER_VERSION=48.0.8   # = the host's wasmtime version
COMPONENT_TOOLS="wit-bindgen $WIT_BINDGEN_VERSION wit-component $WIT_COMPONENT_VERSION adapter $ADAPTER_VERSION"

# The binding generator and the component encoder: the component-tools
# crate of this checkout, built on first use, in the checkout's own target
# dir (not a plugin project's CARGO_TARGET_DIR), in the `tools` profile
# (Cargo.toml) and with plain rustc, as xtask builds it. The `wasp new`
# templates source this file from the checkout too.
COMPONENT_TOOLS_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
component_tool() {
    env -u CARGO_TARGET_DIR -u RUSTC_WORKSPACE_WRAPPER -u CLIPPY_ARGS \
        cargo run --quiet --profile tools --manifest-path "$COMPONENT_TOOLS_ROOT/Cargo.toml" \
        --target-dir "$COMPONENT_TOOLS_ROOT/target" -p component-tools -- "$@"
}

component_tools() {
    local tools="$1/.wasp/tools"
    mkdir -p "$tools"

    # The WASI preview 1 reactor adapter: a file of a crates.io crate.
    adapter="$tools/wasi_snapshot_preview1.reactor-$ADAPTER_VERSION.wasm"
    if [[ ! -s "$adapter" ]]; then
        echo "fetching the WASI reactor adapter (wasi-preview1-component-adapter-provider $ADAPTER_VERSION)" >&2
        local fetch="$tools/adapter-fetch" manifest
        mkdir -p "$fetch/src"
        cat >"$fetch/Cargo.toml" <<TOML
[package]
name = "adapter-fetch"
version = "0.0.0"
edition = "2021"
publish = false
[dependencies]
wasi-preview1-component-adapter-provider = "=$ADAPTER_VERSION"
[workspace]
TOML
        : >"$fetch/src/lib.rs"
        cargo fetch --quiet --manifest-path "$fetch/Cargo.toml"
        manifest="$(cargo metadata --quiet --offline --format-version 1 --manifest-path "$fetch/Cargo.toml" \
            | python3 -c 'import json,sys
m = json.load(sys.stdin)
print(next(p["manifest_path"] for p in m["packages"]
           if p["name"] == "wasi-preview1-component-adapter-provider"))')"
        cp "$(dirname "$manifest")/artefacts/wasi_snapshot_preview1.reactor.wasm" "$adapter.tmp"
        mv "$adapter.tmp" "$adapter"
    fi
}
