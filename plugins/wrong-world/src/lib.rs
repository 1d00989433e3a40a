//! A test fixture: a well-formed component for a world that is not
//! `wasp:plugin/plugin`, so the host must refuse it with a clear error.
wit_bindgen::generate!({
    inline: "
        package fixture:other@0.1.0;
        interface greeter {
            greet: func(name: string) -> string;
        }
        world other {
            export greeter;
        }
    ",
    world: "other",
});

struct Greeter;

impl exports::fixture::other::greeter::Guest for Greeter {
    fn greet(name: String) -> String {
        format!("hello {name}")
    }
}

export!(Greeter);
