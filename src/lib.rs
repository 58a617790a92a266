//! dossier as a library: the answer path over a store of PDFs, and the HTTP server.
//!
//! - [`retrieve`]: question → ranked passages (embed, search the store, one per page).
//! - [`pipeline`]: passages → refusal, or a generated answer whose every sentence is checked
//!   against the evidence and cites its quotes.
//! - [`report`]: the JSON objects dossier writes out (`--json`, the HTTP API).
//! - [`serve`]: `dossier serve`, the store over HTTP.
//! - [`ingest`]: what a prepared document becomes in the store (embedding texts, rows).
//! - [`Settings`]: where the store and the models are; [`Settings::open_store`] and
//!   [`Settings::load_embedder`].
//!
//! The `dossier` binary is a command line over this library; nothing here parses arguments
//! or reads the environment.

#![forbid(unsafe_code)]

pub mod ingest;
pub mod pipeline;
pub mod report;
pub mod retrieve;
pub mod serve;
mod settings;

pub use settings::Settings;
