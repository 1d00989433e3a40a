//! Where bcrypt's salt comes from.
//!
//! bcrypt draws its 16-byte salt through `getrandom`. Rust plugins target
//! `wasm32-unknown-unknown`, for which getrandom has no source of its own,
//! so `plugins/.cargo/config.toml` selects its `custom` backend and this
//! module provides it from WASI's `random.get-random-bytes`, which wasp
//! links for every plugin (real random bytes, the same as Python's
//! `os.urandom` gets). Natively getrandom uses the OS.

#[cfg(target_arch = "wasm32")]
mod wasm {
    // random.wit's bindings, checked in (scripts/rust-bindings).
    include!("random_bindings.rs");

    /// getrandom's custom backend (the symbol its `custom` backend calls).
    ///
    /// # Safety
    /// getrandom passes a buffer of `len` writable bytes at `dest`.
    #[unsafe(no_mangle)]
    unsafe extern "Rust" fn __getrandom_v03_custom(
        dest: *mut u8,
        len: usize,
    ) -> Result<(), getrandom::Error> {
        let bytes = wasi::random::random::get_random_bytes(len as u64);
        if bytes.len() != len {
            return Err(getrandom::Error::UNEXPECTED);
        }
        // SAFETY: `dest` holds `len` bytes (getrandom's contract) and
        // `bytes` is a separate allocation of exactly `len` bytes.
        unsafe { core::ptr::copy_nonoverlapping(bytes.as_ptr(), dest, len) };
        Ok(())
    }
}
