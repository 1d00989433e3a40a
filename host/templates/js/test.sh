#!/usr/bin/env bash
# Unit tests of the logic (natively), then the built plugin through wasp.
set -euo pipefail
cd "$(dirname "$0")"
node --test
