// wasp's own stand-in for the Go module go.bytecodealliance.org/pkg, which
// the bindings of `wit-bindgen go` import: the Go module proxy is not
// reachable from wasp's machines. It holds only the names the generated
// code uses. scripts/build-go-plugins points the bindings here with a
// `replace` directive. See docs/languages.md, section Go.
module go.bytecodealliance.org/pkg

go 1.25
