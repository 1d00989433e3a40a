# Sourced by test.sh: the built plugin over sample.jsonl through `wasp test`,
# compared line by line with expected.jsonl.
wasp="${WASP:-$(command -v wasp || echo "{{wasp_exe}}")}"
if [[ ! -f {{name}}.wasm ]]; then
    echo "{{name}}.wasm is missing: run ./build.sh first" >&2
    exit 1
fi
"$wasp" test pipeline.toml --input sample.jsonl >actual.jsonl
if ! diff -u expected.jsonl actual.jsonl; then
    echo "wasp test: output differs from expected.jsonl (diff above)" >&2
    exit 1
fi
echo "wasp test: $(wc -l <actual.jsonl) lines as expected"
