//! Host imports with a native stand-in, so plugin logic runs under
//! `cargo test` on the build machine as well as inside wasp.

use crate::{Level, Scope};

/// Write a log line into wasp's log, tagged with the stage and plugin.
/// Natively it goes to stderr.
pub fn log(level: Level, message: &str) {
    #[cfg(target_arch = "wasm32")]
    crate::bindings::wasp::plugin::log::log(level, message);
    #[cfg(not(target_arch = "wasm32"))]
    eprintln!("[{level:?}] {message}");
}

/// Add to a plugin-defined counter. Natively it is a no-op.
pub fn counter_add(name: &str, delta: u64) {
    #[cfg(target_arch = "wasm32")]
    crate::bindings::wasp::plugin::metrics::counter_add(name, delta);
    #[cfg(not(target_arch = "wasm32"))]
    let _ = (name, delta);
}

/// The host-owned key-value store (see the `state` interface in the WIT).
/// Natively it is a per-thread map, so each test starts empty.
pub mod state {
    use super::Scope;

    #[cfg(target_arch = "wasm32")]
    use crate::bindings::wasp::plugin::state as imp;

    #[cfg(not(target_arch = "wasm32"))]
    mod imp {
        use super::Scope;
        use std::cell::RefCell;
        use std::collections::BTreeMap;

        thread_local! {
            static MAP: RefCell<BTreeMap<(bool, String), Vec<u8>>> = const { RefCell::new(BTreeMap::new()) };
        }
        fn k(scope: Scope, key: &str) -> (bool, String) {
            (matches!(scope, Scope::Stage), key.to_string())
        }
        pub fn get(scope: Scope, key: &str) -> Option<Vec<u8>> {
            MAP.with(|m| m.borrow().get(&k(scope, key)).cloned())
        }
        pub fn set(scope: Scope, key: &str, value: &[u8]) {
            MAP.with(|m| m.borrow_mut().insert(k(scope, key), value.to_vec()));
        }
        pub fn delete(scope: Scope, key: &str) {
            MAP.with(|m| m.borrow_mut().remove(&k(scope, key)));
        }
        pub fn keys(scope: Scope, prefix: &str) -> Vec<String> {
            let stage = matches!(scope, Scope::Stage);
            MAP.with(|m| {
                m.borrow()
                    .keys()
                    .filter(|(s, key)| *s == stage && key.starts_with(prefix))
                    .map(|(_, key)| key.clone())
                    .collect()
            })
        }
    }

    /// The value under `key`, if any.
    pub fn get(scope: Scope, key: &str) -> Option<Vec<u8>> {
        imp::get(scope, key)
    }
    /// Store `value` under `key`.
    pub fn set(scope: Scope, key: &str, value: &[u8]) {
        imp::set(scope, key, value)
    }
    /// Remove `key`.
    pub fn delete(scope: Scope, key: &str) {
        imp::delete(scope, key)
    }
    /// Keys starting with `prefix`, ascending.
    pub fn keys(scope: Scope, prefix: &str) -> Vec<String> {
        imp::keys(scope, prefix)
    }
}

/// Read-only files the pipeline gives the stage (`[stage.files]` in the
/// pipeline file), such as a model document. Natively, tests give them with
/// [`files::provide`](provide).
pub mod files {
    #[cfg(target_arch = "wasm32")]
    use crate::bindings::wasp::plugin::files as imp;

    #[cfg(not(target_arch = "wasm32"))]
    mod imp {
        use std::cell::RefCell;
        use std::collections::BTreeMap;

        thread_local! {
            pub static FILES: RefCell<BTreeMap<String, Vec<u8>>> = const { RefCell::new(BTreeMap::new()) };
        }
        pub fn read(name: &str) -> Result<Vec<u8>, String> {
            FILES.with(|f| {
                f.borrow().get(name).cloned().ok_or_else(|| {
                    format!("no file named '{name}' was provided (natively: files::provide)")
                })
            })
        }
        pub fn names() -> Vec<String> {
            FILES.with(|f| f.borrow().keys().cloned().collect())
        }
    }

    /// The bytes of the file given under `name`. The error names the files
    /// the stage was given and how to give another: return it from `init`
    /// as is.
    pub fn read(name: &str) -> Result<Vec<u8>, String> {
        imp::read(name)
    }

    /// The names of the files given to the stage, ascending.
    pub fn names() -> Vec<String> {
        imp::names()
    }

    /// Natively only: give this thread's plugin a file, as a pipeline would.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn provide(name: &str, bytes: &[u8]) {
        imp::FILES.with(|f| f.borrow_mut().insert(name.to_string(), bytes.to_vec()));
    }
}
