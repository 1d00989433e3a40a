#!/usr/bin/env bash
# Build {{name}}.wasm with componentize-js (SpiderMonkey inside the
# component). Every WASI feature is disabled: the plugin logs through the
# contract's `log` and its output depends only on its input and config.
set -euo pipefail
cd "$(dirname "$0")"
WASP_ROOT="${WASP_ROOT:-{{wasp_root}}}"
cli="${COMPONENTIZE_JS:-$WASP_ROOT/plugins/js/node_modules/@bytecodealliance/componentize-js/src/cli.js}"
if [[ ! -f "$cli" ]]; then
    echo "componentize-js is missing: run \`cargo xtask plugins\` in $WASP_ROOT once (scripts/build-js-plugins installs it), or set COMPONENTIZE_JS" >&2
    exit 1
fi
node "$cli" app.js -w wit -n plugin -d stdio random clocks http fetch-event -o {{name}}.wasm
echo "built {{name}}.wasm ($(stat -c %s {{name}}.wasm) bytes)"
