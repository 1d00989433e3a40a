//! Integration tests: real Wasm plugins built from this repository (by
//! `cargo xtask plugins`), run through the real `wasp` binary and library.
//! A missing plugin fails the test with the command to build it; nothing
//! is skipped.

mod broker;
mod common;
mod contract;
mod failures;
mod kafka;
mod languages;
mod ml;
mod polyglot;
mod reload;
mod sandbox;
