# Sourced by scripts/build-c-plugins and scripts/build-go-plugins: the
# pinned tools that turn a core Wasm module into a wasp component,
# installed once into .wasp/tools. After `component_tools "$root"`:
#   $wit_bindgen   wit-bindgen-cli (C and Go generators)
#   $wasm_tools    wasm-tools (the wit-component the host and xtask use)
#   $adapter       the WASI preview 1 reactor adapter of the host's wasmtime
# Versions are in COMPONENT_TOOLS; they go into the build stamps.

WIT_BINDGEN_VERSION=0.63.0
WASM_TOOLS_VERSION=1.263.0
ADAPTER_VERSION=48.0.8   # = the host's wasmtime version
COMPONENT_TOOLS="wit-bindgen $WIT_BINDGEN_VERSION wasm-tools $WASM_TOOLS_VERSION adapter $ADAPTER_VERSION"

component_tools() {
    local tools="$1/.wasp/tools"
    mkdir -p "$tools"
    tool_version() { "$tools/bin/$1" --version 2>/dev/null | awk '{print $2}'; }
    if [[ "$(tool_version wit-bindgen)" != "$WIT_BINDGEN_VERSION" ]]; then
        echo "installing wit-bindgen-cli $WIT_BINDGEN_VERSION into .wasp/tools (cargo install, once)" >&2
        cargo install --quiet --locked --root "$tools" "wit-bindgen-cli@$WIT_BINDGEN_VERSION" \
            --no-default-features --features c,go
    fi
    if [[ "$(tool_version wasm-tools)" != "$WASM_TOOLS_VERSION" ]]; then
        echo "installing wasm-tools $WASM_TOOLS_VERSION into .wasp/tools (cargo install, once)" >&2
        cargo install --quiet --locked --root "$tools" "wasm-tools@$WASM_TOOLS_VERSION" \
            --no-default-features --features component,validate,print,strip
    fi
    wit_bindgen="$tools/bin/wit-bindgen"
    wasm_tools="$tools/bin/wasm-tools"

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
