//! One module per subcommand, plus what they share.

pub mod ask;
pub mod bench;
pub mod bench_ingest;
pub mod bench_llm;
pub mod catalog;
pub mod chat;
pub mod check;
pub mod eval;
pub mod extract;
pub mod index;
pub mod ingest;
pub mod ls;
pub mod optimize;
pub mod outcome;
pub mod rm;
pub mod search;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use anyhow::{Context, Result};
use dossier_ingest::{Embedder, EmbedderFiles};
use dossier_store::{Store, StoreError, WriteLock};
use serde::Serialize;
use tokio::runtime::Runtime;

use crate::GlobalArgs;

static INTERRUPTED: AtomicBool = AtomicBool::new(false);
static INTERRUPTS: AtomicUsize = AtomicUsize::new(0);

/// The first Ctrl-C asks the running command to stop at a safe point (after the current
/// document, or the current token); a second one exits at once.
pub fn watch_interrupts() {
    let _ = ctrlc::set_handler(|| {
        INTERRUPTED.store(true, Ordering::SeqCst);
        if INTERRUPTS.fetch_add(1, Ordering::SeqCst) >= 1 {
            std::process::exit(i32::from(crate::exit::INTERRUPTED));
        }
    });
}

pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// Forgets earlier Ctrl-Cs: `chat` stops one answer and goes on with the next question.
pub fn clear_interrupt() {
    INTERRUPTED.store(false, Ordering::SeqCst);
    INTERRUPTS.store(0, Ordering::SeqCst);
}

pub fn load_embedder(global: &GlobalArgs) -> Result<Embedder> {
    let files = EmbedderFiles::in_models_dir(&global.models);
    Embedder::load(&files, global.threads).context("loading the embedding model")
}

/// Opens `--store`: a directory, or an object-store URI (`s3://bucket/prefix`) whose
/// credentials, region and endpoint come from the usual AWS environment variables.
pub fn open_store(runtime: &Runtime, global: &GlobalArgs, create: bool) -> Result<Store> {
    let object_store = dossier_store::local_dir(&global.store).is_none();
    let mut store = runtime
        .block_on(Store::open(&global.store, create))
        .with_context(|| {
            if object_store {
                format!(
                    "opening the store {} (credentials and endpoint from AWS_ACCESS_KEY_ID, \
                     AWS_SECRET_ACCESS_KEY, AWS_REGION, AWS_ENDPOINT_URL, AWS_ALLOW_HTTP)",
                    global.store
                )
            } else {
                format!("opening the store {}", global.store)
            }
        })?;
    if let Some(rows) = global.vector_index_rows {
        store.set_vector_index_rows(rows);
    }
    Ok(store)
}

/// Takes the store's write lock for `command`. `Ok(Err(code))`: another writer holds it and
/// the message is printed; the caller exits with `code`.
pub fn lock_store(
    global: &GlobalArgs,
    command: &str,
    wait: bool,
) -> Result<Result<Option<WriteLock>, u8>> {
    let on_wait = |holder: &dossier_store::Holder| {
        eprintln!(
            "waiting: another dossier {} is writing to {}{}",
            holder.command,
            global.store,
            holder
                .pid
                .map(|p| format!(" (pid {p})"))
                .unwrap_or_default()
        )
    };
    match Store::lock(&global.store, command, wait, on_wait) {
        Ok(None) => {
            tracing::info!(
                "{} is an object store: no write lock; concurrent writers are reconciled by \
                 LanceDB's conditional commits (docs/scale.md)",
                global.store
            );
            Ok(Ok(None))
        }
        Ok(lock) => Ok(Ok(lock)),
        Err(e @ StoreError::Locked { .. }) => {
            eprintln!("error: {e}");
            Ok(Err(crate::exit::BUSY))
        }
        Err(e) => Err(e).with_context(|| format!("locking the store {}", global.store)),
    }
}

pub fn print_json<T: Serialize>(value: &T) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

pub fn millis(duration: std::time::Duration) -> f64 {
    (duration.as_secs_f64() * 1e5).round() / 100.0
}

/// Text on one line, cut to `max` characters, for terminal listings.
pub fn one_line(text: &str, max: usize) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= max {
        flat
    } else {
        let cut: String = flat.chars().take(max.saturating_sub(1)).collect();
        format!("{cut}…")
    }
}
