#!/usr/bin/env python3
"""Exit 0 when every `name==version` line of the requirements file given is
installed at that version (so scripts/setup skips pip)."""
import importlib.metadata
import sys

for line in open(sys.argv[1], encoding="utf-8"):
    line = line.split("#", 1)[0].strip()
    if "==" not in line:
        continue
    name, version = line.split("==", 1)
    try:
        if importlib.metadata.version(name) != version:
            sys.exit(1)
    except importlib.metadata.PackageNotFoundError:
        sys.exit(1)
