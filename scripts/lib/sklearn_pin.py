"""The scikit-learn version every comparison script is checked against, and
the one place that installs it.

Neighbour order, tree building and even train_test_split may change between
releases, so the figures in the repository hold only for this version.
`ensure_sklearn()` installs it with pip when the running Python lacks it,
then restarts the calling script so the new version is the one imported.
Run as a script (`python3 scripts/lib/sklearn_pin.py`, as scripts/setup
does), it only ensures the install.
"""
import os
import subprocess
import sys

SKLEARN_VERSION = "1.9.1"


def installed():
    try:
        import sklearn

        return sklearn.__version__ == SKLEARN_VERSION
    except ImportError:
        return False


def ensure_sklearn():
    if installed():
        return
    if os.environ.get("WASP_SKLEARN_REEXEC"):
        sys.exit(f"scikit-learn=={SKLEARN_VERSION} still not importable after pip install")
    subprocess.check_call(
        [sys.executable, "-m", "pip", "install", "--quiet", f"scikit-learn=={SKLEARN_VERSION}"]
    )
    # A fresh interpreter, so the newly installed version is the one imported.
    os.environ["WASP_SKLEARN_REEXEC"] = "1"
    os.execv(sys.executable, [sys.executable] + sys.argv)


if __name__ == "__main__":
    ensure_sklearn()
