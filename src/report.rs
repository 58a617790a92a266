//! What dossier writes out: the JSON objects of `ask --json`, `chat --json`, `search --json`
//! and `ls --json`, which the HTTP API returns as they are. This module doc is the wire
//! format; the types below are it, field for field, in the order written.
//!
//! ## Conventions
//!
//! - Keys appear in the order of the struct fields. Optional fields are left out when they
//!   do not apply, never written as `null` (except `title`, which is `null` when a document
//!   has none).
//! - Objects are written through [`json`] (a `serde_json::Value`), so an `f32` such as a
//!   score is written as the `f64` it widens to (`0.5376498103141785`, not `0.53764981`).
//! - Times are milliseconds with two decimals ([`millis`]) unless the key says otherwise;
//!   `prompt_ms` and `generate_ms` are whole milliseconds.
//!
//! ## The answer object ([`AnswerReport`]): `ask --json`, `POST /v1/ask`
//!
//! One of three shapes, told apart by `refused` and `model_answer`:
//!
//! - answered ([`Answered`]): `question`, `answer` (the shown text: the supported sentences,
//!   else the evidence sentence shown instead), `refused: false`, `supported` (false when no
//!   sentence of the model's was backed), `model_answer` (the model's own text), `sentences`
//!   ([`AnswerSentence`]: `text`, `supported`, `citations` (the `n` of the citations that
//!   back it), `source` ([`SentenceSource`]: `"model"` or `"evidence"`)), `citations`
//!   ([`Citation`]: `n`, `source` (its passage's number in the prompt), `file`, `path`,
//!   `paths`, `page`, `quote`, `score`), `model`, `usage` (`prompt_tokens`,
//!   `reused_prompt_tokens`, `generated_tokens`, `prompt_seconds`, `generation_seconds`,
//!   `finish_reason`: [`FinishReason`]), `timings` ([`Timings`]).
//! - refused before generation ([`Refused`]): `question`, `answer` (the refusal sentence),
//!   `refused: true`, `refusal_reason`, `sentences: []`, `citations: []`, `closest` (the
//!   three best passages, [`Closest`]: `file`, `path`, `paths`, `page`, `score`, `text`
//!   on one line, at most 300 characters), `timings`; in `chat --json` also `query` (the
//!   standalone query searched), last.
//! - declined by the model ([`Declined`]): `question`, `answer` (the refusal sentence),
//!   `model_answer`, `refused: true`, `refusal_reason`, `sentences: []`, `citations: []`,
//!   `closest`, `usage`.
//!
//! `chat --json` writes one object a line: the refused shape with `query`, or [`ChatAnswer`]
//! (`question`, `query`, `answer`, `refused`, `supported`, `stopped`, `model_answer`,
//! `sentences`, `citations`).
//!
//! ## Search hits ([`Hits`]): `search --json`, `POST /v1/search`
//!
//! `query`, `mode` (`vector`, `text` or `hybrid`), `hits` ([`Hit`]: `rank` from 1, then the
//! passage: `file`, `path`, `paths`, `doc_id`, `page`, `chunk_index`, `char_start`,
//! `char_end`, `text`, `score` (cosine to the query), `ocr` (only when true), `relevance`
//! (what ranks the hits), `vector_rank` and `text_rank` (when in that list)), `timings`
//! ([`SearchTimings`]).
//!
//! ## The listing ([`Listed`]): `ls --json`, `GET /v1/documents`
//!
//! An array of documents: `doc_id`, `file`, `path`, `paths`, `files`, `title`, `pages`,
//! `chunks`, `pages_without_text`, `size_bytes`, `ingested_at_ms`, `status`, `ingested_at`.

use dossier_answer::{self as answer, Passage};
use dossier_llm::GenerationStats;
use serde::Serialize;

use crate::pipeline::{Response, Retrieved};
use crate::retrieve::Ranked;

/// A report as the JSON value that is written out (see the conventions above).
pub fn json(report: &impl Serialize) -> serde_json::Value {
    serde_json::to_value(report).expect("reports serialise to JSON")
}

/// A quote that backs the answer.
#[derive(Serialize, Debug, Clone)]
pub struct Citation {
    /// Its number in the answer: sentences cite `[n]`.
    pub n: usize,
    /// The number its passage had in the prompt.
    pub source: usize,
    pub file: String,
    pub path: String,
    /// Every path of the cited document (the same content under several names); `path` is
    /// the one the question named, else the first.
    pub paths: Vec<String>,
    pub page: u32,
    pub quote: String,
    pub score: f32,
}

/// Where a shown sentence comes from.
#[derive(Serialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SentenceSource {
    /// The model wrote it.
    Model,
    /// The evidence sentence shown when no sentence of the model's was supported.
    Evidence,
}

/// One sentence of the model's answer as checked against the evidence.
#[derive(Serialize, Debug, Clone)]
pub struct AnswerSentence {
    pub text: String,
    /// Backed by the evidence; unsupported sentences are left out of the shown answer.
    pub supported: bool,
    /// The `n` of the citations that back it.
    pub citations: Vec<usize>,
    pub source: SentenceSource,
}

/// Why generation ended, as `usage.finish_reason` writes it: dossier-llm's own.
pub use dossier_llm::FinishReason;

/// How long the stages of one question took, in milliseconds; a stage not run is left out.
#[derive(Serialize, Debug, Clone, Default)]
pub struct Timings {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub embed_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub search_ms: Option<f64>,
    /// Opening the store and the embedder (a question refused before generation).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub load_ms: Option<f64>,
    /// Opening the store and the embedder (an answered question).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub load_retrieval_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub load_llm_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_ms: Option<f64>,
    /// Whole milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt_ms: Option<f64>,
    /// Whole milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generate_ms: Option<f64>,
}

impl Timings {
    /// The retrieval stages of `retrieved`.
    pub fn of(retrieved: &Retrieved) -> Self {
        Self {
            embed_ms: Some(millis(retrieved.embed_time)),
            search_ms: Some(millis(retrieved.search_time)),
            ..Self::default()
        }
    }
}

/// A passage that came closest to a refused question.
#[derive(Serialize, Debug, Clone)]
pub struct Closest {
    pub file: String,
    pub path: String,
    pub paths: Vec<String>,
    pub page: u32,
    pub score: f32,
    /// On one line, at most 300 characters.
    pub text: String,
}

impl Closest {
    /// The three best of `passages`.
    pub fn of(passages: &[Passage]) -> Vec<Self> {
        passages
            .iter()
            .take(3)
            .map(|p| Self {
                file: p.file_name.clone(),
                path: p.path.clone(),
                paths: p.paths.clone(),
                page: p.page,
                score: p.score,
                text: one_line(&p.text, 300),
            })
            .collect()
    }
}

/// The answer object (see the module doc for its three shapes).
#[derive(Serialize, Debug, Clone)]
#[serde(untagged)]
pub enum AnswerReport {
    Answered(Answered),
    Refused(Refused),
    Declined(Declined),
}

/// A checked answer.
#[derive(Serialize, Debug, Clone)]
pub struct Answered {
    pub question: String,
    pub answer: String,
    /// Always false.
    pub refused: bool,
    pub supported: bool,
    pub model_answer: String,
    pub sentences: Vec<AnswerSentence>,
    pub citations: Vec<Citation>,
    pub model: String,
    pub usage: GenerationStats,
    pub timings: Timings,
}

/// A question refused before generation: the model was not asked.
#[derive(Serialize, Debug, Clone)]
pub struct Refused {
    pub question: String,
    pub answer: &'static str,
    /// Always true.
    pub refused: bool,
    pub refusal_reason: String,
    /// Always empty.
    pub sentences: Vec<AnswerSentence>,
    /// Always empty.
    pub citations: Vec<Citation>,
    pub closest: Vec<Closest>,
    pub timings: Timings,
    /// `chat --json`: the standalone query that was searched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
}

/// The model said the sources do not answer (or nothing it said could be shown).
#[derive(Serialize, Debug, Clone)]
pub struct Declined {
    pub question: String,
    pub answer: &'static str,
    pub model_answer: String,
    /// Always true.
    pub refused: bool,
    pub refusal_reason: String,
    /// Always empty.
    pub sentences: Vec<AnswerSentence>,
    /// Always empty.
    pub citations: Vec<Citation>,
    pub closest: Vec<Closest>,
    pub usage: GenerationStats,
}

impl AnswerReport {
    /// A question refused before generation, with the passages that came closest.
    pub fn refused(
        question: &str,
        passages: &[Passage],
        reason: &answer::Refusal,
        timings: Timings,
    ) -> Self {
        Self::Refused(Refused {
            question: question.to_owned(),
            answer: answer::REFUSAL,
            refused: true,
            refusal_reason: reason.to_string(),
            sentences: Vec::new(),
            citations: Vec::new(),
            closest: Closest::of(passages),
            timings,
            query: None,
        })
    }

    /// The model's answer to `question` from `passages`: checked, or declined. `timings`
    /// (of an answer) gains the generation's.
    pub fn generated(
        question: &str,
        passages: &[Passage],
        response: &Response,
        mut timings: Timings,
    ) -> Self {
        let stats = &response.stats;
        if response.refused {
            return Self::Declined(Declined {
                question: question.to_owned(),
                answer: answer::REFUSAL,
                model_answer: response.model_text.clone(),
                refused: true,
                refusal_reason: response
                    .refusal
                    .as_ref()
                    .unwrap_or(&answer::Refusal::ModelDeclined)
                    .to_string(),
                sentences: Vec::new(),
                citations: Vec::new(),
                closest: Closest::of(passages),
                usage: stats.clone(),
            });
        }
        timings.prompt_ms = Some((stats.prompt_seconds * 1e3).round());
        timings.generate_ms = Some((stats.generation_seconds * 1e3).round());
        Self::Answered(Answered {
            question: question.to_owned(),
            answer: response.answer.clone(),
            refused: false,
            supported: response.supported,
            model_answer: response.model_text.clone(),
            sentences: response.sentences.clone(),
            citations: response.citations.clone(),
            model: response.model.clone(),
            usage: stats.clone(),
            timings,
        })
    }

    pub fn is_refused(&self) -> bool {
        !matches!(self, Self::Answered(_))
    }

    /// Why it was refused, when it was.
    pub fn refusal_reason(&self) -> Option<&str> {
        match self {
            Self::Answered(_) => None,
            Self::Refused(r) => Some(&r.refusal_reason),
            Self::Declined(d) => Some(&d.refusal_reason),
        }
    }

    /// The quotes the answer cites (none when refused).
    pub fn citations(&self) -> &[Citation] {
        match self {
            Self::Answered(a) => &a.citations,
            Self::Refused(_) | Self::Declined(_) => &[],
        }
    }
}

/// A line of `chat --json` for a question the model answered (or declined).
#[derive(Serialize, Debug, Clone)]
pub struct ChatAnswer {
    pub question: String,
    /// The standalone query that was searched.
    pub query: String,
    pub answer: String,
    pub refused: bool,
    pub supported: bool,
    /// Ctrl-C stopped the generation.
    pub stopped: bool,
    pub model_answer: String,
    pub sentences: Vec<AnswerSentence>,
    pub citations: Vec<Citation>,
}

impl ChatAnswer {
    pub fn new(question: &str, query: &str, response: &Response) -> Self {
        Self {
            question: question.to_owned(),
            query: query.to_owned(),
            answer: response.answer.clone(),
            refused: response.refused,
            supported: response.supported,
            stopped: response.stats.finish_reason == FinishReason::Interrupted,
            model_answer: response.model_text.clone(),
            sentences: response.sentences.clone(),
            citations: response.citations.clone(),
        }
    }
}

/// A search hit: its rank from 1, then the passage and its ranking.
#[derive(Serialize, Debug, Clone)]
pub struct Hit {
    pub rank: usize,
    #[serde(flatten)]
    pub ranked: Ranked,
}

/// How long a search took, in milliseconds.
#[derive(Serialize, Debug, Clone)]
pub struct SearchTimings {
    /// Opening the store and the embedder (`search` on the command line).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub load_ms: Option<f64>,
    pub embed_ms: f64,
    pub search_ms: f64,
    pub total_ms: f64,
}

/// The hits of one search.
#[derive(Serialize, Debug, Clone)]
pub struct Hits {
    pub query: String,
    /// `vector`, `text` or `hybrid`.
    pub mode: String,
    pub hits: Vec<Hit>,
    pub timings: SearchTimings,
}

impl Hits {
    /// `ranked`, best first, numbered from 1.
    pub fn new(query: &str, mode: &str, ranked: Vec<Ranked>, timings: SearchTimings) -> Self {
        Self {
            query: query.to_owned(),
            mode: mode.to_owned(),
            hits: ranked
                .into_iter()
                .enumerate()
                .map(|(i, ranked)| Hit {
                    rank: i + 1,
                    ranked,
                })
                .collect(),
            timings,
        }
    }
}

/// A document of the listing.
#[derive(Serialize, Debug, Clone)]
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
    use super::*;

    fn passage() -> Passage {
        Passage {
            file_name: "a.pdf".into(),
            path: "/d/a.pdf".into(),
            paths: vec!["/d/a.pdf".into()],
            doc_id: "d".into(),
            page: 2,
            chunk_index: 0,
            char_start: 0,
            char_end: 12,
            text: "Fees are due\nmonthly.".into(),
            score: 0.537_649_8,
            ocr: false,
        }
    }

    fn keys(value: &serde_json::Value) -> Vec<&str> {
        value
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect()
    }

    #[test]
    fn a_refusal_has_the_wire_formats_keys_in_order() {
        let timings = Timings {
            total_ms: Some(1.5),
            ..Timings::default()
        };
        let report =
            AnswerReport::refused("q?", &[passage()], &answer::Refusal::WeakRetrieval, timings);
        let value = json(&report);
        assert_eq!(
            keys(&value),
            [
                "question",
                "answer",
                "refused",
                "refusal_reason",
                "sentences",
                "citations",
                "closest",
                "timings"
            ]
        );
        assert_eq!(value["refused"], true);
        assert_eq!(value["closest"][0]["text"], "Fees are due monthly.");
        assert_eq!(keys(&value["timings"]), ["total_ms"]);
        assert!(report.is_refused() && report.citations().is_empty());
        // An f32 is written as the f64 it widens to.
        let score = value["closest"][0]["score"].to_string();
        assert_eq!(score, f64::from(0.537_649_8_f32).to_string());
    }

    #[test]
    fn sentence_sources_and_finish_reasons_are_lowercase_words() {
        assert_eq!(json(&SentenceSource::Evidence), "evidence");
        assert_eq!(json(&FinishReason::Interrupted), "interrupted");
    }
    #[test]
    fn utc_times_are_formatted() {
        assert_eq!(super::utc_time(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::utc_time(1_795_000_000_000), "2026-11-18T11:06:40Z");
        assert_eq!(super::utc_time(951_782_400_000), "2000-02-29T00:00:00Z");
    }
}
