//! What dossier writes out: the JSON objects of `ask`, `search` and `ls --json`, which the
//! HTTP API returns as they are, and the small formatting helpers they share.

use dossier_answer as answer;
use serde::Serialize;

use crate::pipeline::Response;
use crate::retrieve::{Passage, Ranked};

pub fn closest(passages: &[Passage]) -> Vec<serde_json::Value> {
    passages
        .iter()
        .take(3)
        .map(|p| {
            serde_json::json!({
                "file": p.file_name, "path": p.path, "paths": p.paths, "page": p.page,
                "score": p.score, "text": one_line(&p.text, 300),
            })
        })
        .collect()
}

/// `ask --json`'s answer object, also the HTTP API's: `timings` gains the generation's.
pub fn answer_json(
    question: &str,
    response: &Response,
    model: &str,
    mut timings: serde_json::Value,
) -> serde_json::Value {
    let stats = &response.stats;
    timings["prompt_ms"] = (stats.prompt_seconds * 1e3).round().into();
    timings["generate_ms"] = (stats.generation_seconds * 1e3).round().into();
    serde_json::json!({
        "question": question,
        "answer": response.answer,
        "refused": false,
        "supported": response.supported,
        "model_answer": response.model_text,
        "sentences": response.sentences,
        "citations": response.citations,
        "model": model,
        "usage": stats,
        "timings": timings,
    })
}

/// `ask --json`'s object for a question refused before generation.
pub fn refusal_json(
    question: &str,
    passages: &[Passage],
    reason: &answer::Refusal,
    timings: serde_json::Value,
) -> serde_json::Value {
    serde_json::json!({
        "question": question,
        "answer": answer::REFUSAL,
        "refused": true,
        "refusal_reason": reason.to_string(),
        "sentences": [],
        "citations": [],
        "closest": closest(passages),
        "timings": timings,
    })
}

/// `ask --json`'s object when the model itself said the sources do not answer.
pub fn refused_after_generation_json(
    question: &str,
    passages: &[Passage],
    response: &Response,
) -> serde_json::Value {
    serde_json::json!({
        "question": question,
        "answer": answer::REFUSAL,
        "model_answer": response.model_text,
        "refused": true,
        "refusal_reason": response
            .refusal
            .as_ref()
            .unwrap_or(&answer::Refusal::ModelDeclined)
            .to_string(),
        "sentences": [],
        "citations": [],
        "closest": closest(passages),
        "usage": response.stats,
    })
}

#[derive(Serialize)]
struct Numbered<'a> {
    rank: usize,
    #[serde(flatten)]
    ranked: &'a Ranked,
}

/// `search --json`'s object, also the HTTP API's.
pub fn hits_json(
    query: &str,
    mode: &str,
    ranked: &[Ranked],
    timings: serde_json::Value,
) -> serde_json::Value {
    let hits: Vec<Numbered> = ranked
        .iter()
        .enumerate()
        .map(|(i, ranked)| Numbered {
            rank: i + 1,
            ranked,
        })
        .collect();
    serde_json::json!({
        "query": query,
        "mode": mode,
        "hits": hits,
        "timings": timings,
    })
}

#[derive(Serialize)]
pub struct Listed {
    pub doc_id: String,
    /// The first path's file name, and the first path: the one a citation names when
    /// nothing says which copy was meant.
    pub file: String,
    pub path: String,
    /// Every path the document's bytes were found under (same content, stored once), the
    /// first one first, and their file names.
    pub paths: Vec<String>,
    pub files: Vec<String>,
    pub title: Option<String>,
    pub pages: u32,
    pub chunks: u32,
    pub pages_without_text: u32,
    pub size_bytes: u64,
    pub ingested_at_ms: i64,
    /// "complete", or "complete, N pages without text" (listed documents are always whole:
    /// a document row is written after all its chunks).
    pub status: String,
    /// The ingest time, UTC, ISO 8601.
    pub ingested_at: String,
}

/// Unix milliseconds as `YYYY-MM-DDTHH:MM:SSZ` (UTC), without a date library.
pub fn utc_time(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The documents as `ls --json` (and the HTTP API) lists them.
pub fn listing(documents: Vec<dossier_store::DocumentRecord>) -> Vec<Listed> {
    documents
        .into_iter()
        .map(|d| Listed {
            status: if d.pages_without_text == 0 {
                "complete".to_owned()
            } else {
                format!("complete, {} pages without text", d.pages_without_text)
            },
            ingested_at: utc_time(d.ingested_at_ms),
            file: d.file_name().to_owned(),
            path: d.path().to_owned(),
            files: d
                .paths
                .iter()
                .map(|p| dossier_store::file_name(p).to_owned())
                .collect(),
            doc_id: d.doc_id,
            paths: d.paths,
            title: d.title,
            pages: d.pages,
            chunks: d.chunks,
            pages_without_text: d.pages_without_text,
            size_bytes: d.size_bytes,
            ingested_at_ms: d.ingested_at_ms,
        })
        .collect()
}

/// Milliseconds, to two decimals, as timings are written.
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

#[cfg(test)]
mod tests {
    #[test]
    fn utc_times_are_formatted() {
        assert_eq!(super::utc_time(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::utc_time(1_795_000_000_000), "2026-11-18T11:06:40Z");
        assert_eq!(super::utc_time(951_782_400_000), "2000-02-29T00:00:00Z");
    }
}
