#!/usr/bin/env bash
# Unit tests of the logic (natively), then the built plugin through wasp.
set -euo pipefail
cd "$(dirname "$0")"
PYTHONDONTWRITEBYTECODE=1 python3 -m unittest -q
