//! From retrieved passages to a grounded answer: whether to answer at all, the prompt the
//! model sees, and the citations, which come from the passages and never from the model.
//!
//! Pure functions of text and numbers: no model, no store, no I/O. Each module holds one
//! concern and states its rules; the binary calls them in this order: [`refusal`] before
//! generation, [`evidence`] and [`prompt`] to build the model's input, [`support`] on its
//! answer, and [`fallback`] when no sentence of it is backed. [`followup`] rewrites a
//! conversation's follow-up questions for retrieval.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod evidence;
pub mod fallback;
pub mod followup;
pub mod kind;
mod passage;
pub mod prompt;
pub mod question;
pub mod refusal;
pub mod support;
pub mod text;

pub use evidence::{answer_sentences, candidate_sentences, select_evidence, sentences, Evidence};
pub use fallback::{fallback_evidence, shown_instead};
pub use followup::standalone_query;
pub use kind::{asked_kinds, AnswerKind, Currency};
pub use passage::Passage;
pub use prompt::{build_evidence_prompt, SYSTEM_PROMPT};
pub use question::is_yes_no;
pub use refusal::{
    is_model_refusal, missing_answer_kind, missing_key_term, Refusal, RefusalPolicy, REFUSAL,
};
pub use support::{adds_to_question, check_sentences, SentenceCheck};
pub use text::{content_terms, term_coverage};

/// Passages and evidence for the unit tests of every module.
#[cfg(test)]
mod fixtures {
    use crate::{Evidence, Passage};

    pub(crate) fn passage(text: &str, score: f32) -> Passage {
        Passage {
            file_name: "contract.pdf".into(),
            path: "/x/contract.pdf".into(),
            paths: vec!["/x/contract.pdf".into()],
            doc_id: "d".into(),
            page: 2,
            chunk_index: 0,
            char_start: 0,
            char_end: text.chars().count() as u32,
            text: text.into(),
            score,
            ocr: false,
        }
    }

    pub(crate) fn evidence_of(sentences: &[&str]) -> Vec<Evidence> {
        sentences
            .iter()
            .enumerate()
            .map(|(i, s)| Evidence {
                passage: 0,
                position: i,
                sentence: (*s).to_owned(),
                score: 1.0 - i as f32 * 0.1,
            })
            .collect()
    }
}
