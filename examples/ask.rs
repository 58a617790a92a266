//! Asks one question of a store with the local model, through the library's `Asker`
//! (retrieve → refuse? → generate → check), and prints `ask --json`'s object.
//!
//! ```text
//! DOSSIER_MODELS=models cargo run --example ask -- /tmp/example-store "What is the notice period?"
//! ```

use std::path::PathBuf;

use anyhow::Result;
use dossier::pipeline::{Asker, ModelChoice};
use dossier::report::{self, AnswerReport, Timings};
use dossier::retrieve::{Ranking, Retriever};
use dossier::Settings;

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(store), Some(question)) = (args.next(), args.next()) else {
        anyhow::bail!("usage: ask STORE QUESTION (models from DOSSIER_MODELS)");
    };
    let models = std::env::var_os("DOSSIER_MODELS").map_or_else(|| "models".into(), PathBuf::from);
    let settings = Settings::new(store, models);
    let runtime = tokio::runtime::Runtime::new()?;

    let store = settings.open_store(&runtime, false)?;
    let embedder = settings.load_embedder()?;
    let mut retriever = Retriever::open(&runtime, store, embedder, &Ranking::default())?;
    let asker = Asker::default();
    // The model is loaded only if retrieval does not refuse the question.
    let load = || Ok(Box::new(ModelChoice::default().load(&runtime, &settings)?));
    let asked = asker.ask(&runtime, &mut retriever, &question, load, |_| true)?;

    let retrieved = &asked.retrieved;
    let timings = Timings::of(retrieved);
    let report = match &asked.response {
        Some(response) => {
            AnswerReport::generated(&question, &retrieved.passages, response, timings)
        }
        None => {
            let reason = retrieved
                .refusal
                .as_ref()
                .expect("refused before generation");
            AnswerReport::refused(&question, &retrieved.passages, reason, timings)
        }
    };
    println!("{}", serde_json::to_string_pretty(&report::json(&report))?);
    Ok(())
}
