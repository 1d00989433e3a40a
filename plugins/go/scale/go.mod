// The module path is the one the bindings of `wit-bindgen go` use, so the
// build can add them beside these packages (scripts/build-go-plugins).
// Native tests: `go test ./scale`.
module wit_component

go 1.25
