//! The prompt: the model sees the instructions and the evidence sentences, never whole
//! passages.
//!
//! Evidence is grouped per passage in reading order, each group numbered as its passage
//! (`[n] file, page p:`), then the question.

use crate::evidence::Evidence;
use crate::Passage;

/// Instructions that a 135M-parameter model follows best: short and concrete.
pub const SYSTEM_PROMPT: &str = "You answer questions about the user's documents. Use only the \
sources given. Answer in one or two short sentences, quoting exact names, numbers and dates \
from the sources. If the sources do not contain the answer, reply exactly: The documents do \
not say.";

/// The user turn from selected evidence: one numbered source per passage, holding its
/// evidence sentences in reading order, then the question.
pub fn build_evidence_prompt(
    question: &str,
    passages: &[Passage],
    evidence: &[Evidence],
) -> String {
    let mut sources = String::from("Sources:\n");
    let mut current: Option<usize> = None;
    for e in evidence {
        if current != Some(e.passage) {
            if current.is_some() {
                sources.push('\n');
            }
            let p = &passages[e.passage];
            sources.push_str(&format!(
                "[{}] {}, page {}:",
                e.passage + 1,
                p.file_name,
                p.page
            ));
            current = Some(e.passage);
        }
        sources.push(' ');
        sources.push_str(&e.sentence);
    }
    format!("{sources}\n\nQuestion: {question}\nAnswer:")
}
