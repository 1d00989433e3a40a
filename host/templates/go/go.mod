// The module path is the one the bindings of `wit-bindgen go` use: ./build.sh
// generates them beside these packages. Go standard library only (the Go
// module proxy is not used).
module wit_component

go 1.25
