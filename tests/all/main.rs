//! Integration tests: real Wasm plugins built from this repository (by
//! `cargo xtask plugins`), run through the real `wasp` binary and library.
//! A missing plugin fails the test with the command to build it; nothing
//! is skipped.

mod broker;
mod common;
mod containers;
mod contract;
mod contract_v2;
mod failures;
mod kafka;
mod languages;
mod learner;
mod ml;
mod models;
mod plot;
mod polyglot;
mod postgres;
mod reload;
mod routing;
mod sandbox;
mod scaleout;
mod stack;
mod state;
mod telemetry;
