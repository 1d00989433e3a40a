#!/usr/bin/env bash
# Build {{name}}.wasm with componentize-py (CPython inside the component).
# The bindings are generated from wit/ at build time.
set -euo pipefail
cd "$(dirname "$0")"
COMPONENTIZE_PY_VERSION=0.25.1
python="${PYTHON:-python3}"
installed="$("$python" -c 'import importlib.metadata as m; print(m.version("componentize-py"))' 2>/dev/null || true)"
if [[ "$installed" != "$COMPONENTIZE_PY_VERSION" ]]; then
    echo "installing componentize-py==$COMPONENTIZE_PY_VERSION (found: ${installed:-none})" >&2
    PIP_ROOT_USER_ACTION=ignore "$python" -m pip install --quiet --disable-pip-version-check \
        "componentize-py==$COMPONENTIZE_PY_VERSION"
fi
PYTHONDONTWRITEBYTECODE=1 "$python" -c 'import sys; from componentize_py import script
sys.argv[0] = "componentize-py"; sys.exit(script())' \
    -q -d wit -w plugin componentize app -p . -o {{name}}.wasm
echo "built {{name}}.wasm ($(stat -c %s {{name}}.wasm) bytes)"
