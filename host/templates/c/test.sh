#!/usr/bin/env bash
# Unit tests of the logic (natively), then the built plugin through wasp.
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p build
cc -std=c11 -Wall -o build/test_logic test_logic.c logic.c json.c -lm
build/test_logic
