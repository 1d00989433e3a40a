//! A test fixture: a well-formed component for a world that is not
//! `wasp:plugin/plugin`, so the host must refuse it with a clear error.
// other.wit's bindings, checked in (scripts/rust-bindings).
include!("bindings.rs");

struct Greeter;

impl exports::fixture::other::greeter::Guest for Greeter {
    fn greet(name: String) -> String {
        format!("hello {name}")
    }
}

export!(Greeter);
