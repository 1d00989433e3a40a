# linted COMMAND…: runs a cargo command with clippy-driver as the compiler of
# the workspace's own crates and clippy's lints denied (-D warnings), as
# `cargo clippy -- -D warnings` does, but inside a real build: dependencies
# are compiled once, for the build and the lints together. CLIPPY_ARGS is
# how cargo-clippy hands its arguments to the driver (split on
# __CLIPPY_HACKERY__).
linted() {
  local driver
  driver="$(rustup which clippy-driver 2>/dev/null || command -v clippy-driver || true)"
  if [[ -z "$driver" ]]; then
    echo "scripts/test: clippy-driver not found: run 'rustup component add clippy'" >&2
    return 1
  fi
  RUSTC_WORKSPACE_WRAPPER="$driver" CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__" "$@"
}
