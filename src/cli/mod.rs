//! One module per subcommand, plus what they share: the flags (`args`) and terminal helpers.

pub mod args;
pub mod ask;
pub mod bench;
pub mod bench_ingest;
pub mod bench_llm;
pub mod catalog;
pub mod chat;
pub mod check;
pub mod env;
pub mod eval;
pub mod extract;
pub mod index;
pub mod ingest;
pub mod ls;
pub mod optimize;
pub mod outcome;
pub mod rm;
pub mod search;
pub mod serve;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use anyhow::{Context, Result};
use dossier_store::{Store, StoreError, WriteLock};
use serde::Serialize;

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
