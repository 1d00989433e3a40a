#!/usr/bin/env bash
# Unit tests of the logic (natively, with the wasp checkout's pinned Go),
# then the built plugin through wasp.
set -euo pipefail
cd "$(dirname "$0")"
WASP_ROOT="${WASP_ROOT:-{{wasp_root}}}"
source "$WASP_ROOT/scripts/lib/go-toolchain.sh"
go_toolchain "$WASP_ROOT"
go test ./logic
