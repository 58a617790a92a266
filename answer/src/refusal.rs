//! Whether to answer at all, decided before the model runs, and how a refusal is told.
//!
//! - Weak retrieval: no passage, or the best one's cosine below `min_score`.
//! - A missing key term: a number of the question (as a whole term) or an acronym (2–6
//!   capitals) that no retrieved passage (nor a file name, for acronyms) holds.
//! - No stated value: the question asks for a kind of value that no passage sentence on
//!   its subject states (yes/no questions are not checked).
//! - After generation, the model's own words declining to answer are a refusal too.

use std::collections::HashSet;

use crate::evidence::sentences;
use crate::kind::{asked_kinds, states, AnswerKind, MONEY_CUES};
use crate::question::is_yes_no;
use crate::text::{content_terms, is_number, number_key, stem, stems};
use crate::Passage;

/// What the user is told when the documents do not hold the answer.
pub const REFUSAL: &str = "The documents do not contain the answer to this question.";

/// When to answer at all, calibrated on samples/qa.jsonl and the development set
/// samples/eval/qa.jsonl (BENCHMARKS.md). Two signals:
/// - the best passage's cosine similarity: every answerable question's best passage scored
///   at least 0.29, questions on absent topics at most 0.15;
/// - the question's key terms: a number it names must occur (as a whole term), and an
///   acronym it names must occur, in the retrieved passages, the ten best chunks (before
///   one-per-page collapsing, which can hide the chunk that holds it) or their file names.
///   A question about "April 2022" or "the FDA" that the documents never mention is about
///   something they do not cover, however close the topic is;
/// - the kind of value the question asks for: a sum of money (in the currency it names),
///   an hourly figure, a date, a span of time or a number must be stated by some sentence
///   of the passages that shares a content word with the question. The documents often
///   discuss what a question is about (liability, commercial support, a licence) without
///   the figure it asks for; retrieval scores cannot tell those questions apart.
///
/// General word-overlap thresholds were tried and dropped: paraphrased questions share few
/// words with their answer (30% of answerable questions refused, no unanswerable one).
#[derive(Debug, Clone, Copy)]
pub struct RefusalPolicy {
    /// Below this cosine similarity of the best passage, refuse without calling the model.
    pub min_score: f32,
    /// Check the question's numbers and acronyms against the passages, and that some
    /// passage states the kind of value it asks for ([`missing_answer_kind`]).
    pub key_terms: bool,
}

impl Default for RefusalPolicy {
    fn default() -> Self {
        Self {
            min_score: 0.25,
            key_terms: true,
        }
    }
}

/// Why the documents cannot answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No passage, or the best one is too far from the question.
    WeakRetrieval,
    /// The question names a number or an acronym that no retrieved passage holds.
    MissingTerm(String),
    /// The question asks for a kind of value (a sum of money, a date…) that no retrieved
    /// sentence on its subject states.
    NoStatedValue(AnswerKind),
    /// The model's answer only repeats the question's own words.
    OnlyRestated,
    /// The model's answer is not backed, and no evidence sentence speaks of what the
    /// question asks about beyond repeating it (only of whom it asks, or only headings).
    NotAddressed,
    /// The model itself said that the sources do not answer.
    ModelDeclined,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::WeakRetrieval => write!(f, "no passage is close enough to the question"),
            Refusal::MissingTerm(t) => write!(f, "the passages never mention \"{t}\""),
            Refusal::NoStatedValue(kind) => {
                write!(f, "no passage on the subject states {kind}")
            }
            Refusal::OnlyRestated => write!(
                f,
                "the model only repeated the question's words, the sources do not answer it"
            ),
            Refusal::NotAddressed => write!(
                f,
                "the closest sentences do not speak of what the question asks about"
            ),
            Refusal::ModelDeclined => write!(f, "the model found no answer in the sources"),
        }
    }
}

impl RefusalPolicy {
    /// True when the passages are too weak to answer from (score only).
    pub fn should_refuse(&self, passages: &[Passage]) -> bool {
        passages
            .first()
            .is_none_or(|best| best.score < self.min_score)
    }

    /// Why `question` cannot be answered from `passages` (best first), if it cannot;
    /// `wider` are more retrieved chunks that key terms may also be found in.
    pub fn refusal(
        &self,
        question: &str,
        passages: &[Passage],
        wider: &[Passage],
    ) -> Option<Refusal> {
        if self.should_refuse(passages) {
            return Some(Refusal::WeakRetrieval);
        }
        if !self.key_terms {
            return None;
        }
        let pool: Vec<&Passage> = passages.iter().chain(wider).collect();
        if let Some(term) = missing_key_term(question, &pool) {
            return Some(Refusal::MissingTerm(term));
        }
        missing_answer_kind(question, passages).map(Refusal::NoStatedValue)
    }
}

/// The first number of `question` absent from every passage (as a whole term), or
/// acronym (2–6 capitals) absent from every passage and file name.
pub fn missing_key_term(question: &str, passages: &[&Passage]) -> Option<String> {
    let shown: HashSet<String> = passages
        .iter()
        .flat_map(|p| content_terms(&p.text))
        .filter(|t| is_number(t))
        .map(|t| number_key(&t))
        .collect();
    if let Some(n) = content_terms(question)
        .into_iter()
        .filter(|t| is_number(t))
        .find(|t| !shown.contains(&number_key(t)))
    {
        return Some(n);
    }
    let everything: String = passages
        .iter()
        .flat_map(|p| [p.text.as_str(), p.file_name.as_str()])
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase();
    question
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| (2..=6).contains(&w.len()) && w.chars().all(|c| c.is_ascii_uppercase()))
        .find(|w| !everything.contains(&w.to_lowercase()))
        .map(str::to_owned)
}

/// The first kind of value `question` asks for that no sentence of `passages` on its
/// subject states: a sentence counts when it shares a content word with the question
/// (other than the words that ask for the value) and states every kind asked for.
/// Questions answered by yes or no are not checked.
pub fn missing_answer_kind(question: &str, passages: &[Passage]) -> Option<AnswerKind> {
    let kinds = asked_kinds(question);
    // "Do we owe any royalties?" is answered by yes or no, not by a sum.
    if kinds.is_empty() || is_yes_no(question) {
        return None;
    }
    // The words that ask for the value are not its subject, "pay" and "paid" included:
    // "How much did Prisma pay for the server?" is not answered by "the Licensee shall not
    // pay any fees or royalties" (a licence on another subject, stated free of charge).
    let cue_stems: HashSet<String> = MONEY_CUES
        .iter()
        .chain(
            [
                "hourly", "rate", "hour", "date", "year", "long", "soon", "quickly", "pay", "pays",
                "paid", "paying",
            ]
            .iter(),
        )
        .map(|c| stem(c).to_owned())
        .collect();
    let subject: HashSet<String> = stems(question)
        .into_iter()
        .filter(|s| !cue_stems.contains(s))
        .collect();
    let answered = passages.iter().any(|p| {
        sentences(&p.text).into_iter().any(|s| {
            let on_subject = subject.is_empty() || stems(s).iter().any(|t| subject.contains(t));
            on_subject && kinds.iter().all(|&k| states(k, s))
        })
    });
    (!answered).then(|| kinds[0])
}

/// True when the model's own words say it cannot answer from the sources.
pub fn is_model_refusal(answer: &str) -> bool {
    let lower = answer.to_lowercase();
    [
        "documents do not say",
        "do not contain",
        "does not contain",
        "not mentioned",
        "no information",
        "cannot find",
        "can't find",
        "not provided",
    ]
    .iter()
    .any(|p| lower.contains(p))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::*;
    use crate::Currency;

    #[test]
    fn refusal_policy_refuses_weak_or_missing_passages() {
        let policy = RefusalPolicy::default();
        assert!(policy.should_refuse(&[]));
        assert!(policy.should_refuse(&[passage("The fee is 10.", 0.1)]));
        assert!(!policy.should_refuse(&[passage("The fee is 10.", 0.4)]));
    }

    #[test]
    fn a_question_for_a_value_no_sentence_states_is_refused() {
        let licence = vec![passage(
            "In no event shall Steinberg be liable for indirect damages. The Licensee may \
             terminate this Agreement with 14 days notice.",
            0.7,
        )];
        let policy = RefusalPolicy::default();
        assert_eq!(
            policy.refusal(
                "What is the maximum amount in euros that Steinberg can be held liable for?",
                &licence,
                &[]
            ),
            Some(Refusal::NoStatedValue(AnswerKind::Money(Some(
                Currency::Euro
            ))))
        );
        assert_eq!(
            policy.refusal("How long is the notice to terminate?", &licence, &[]),
            None
        );
        let fees = vec![passage(
            "Client shall pay a fixed monthly service fee of USD 48,500 (forty-eight thousand \
             five hundred US dollars).",
            0.7,
        )];
        assert_eq!(
            policy.refusal(
                "What monthly fee does the client owe, in dollars?",
                &fees,
                &[]
            ),
            None
        );
        assert_eq!(
            policy.refusal("What is the hourly rate for support, in euros?", &fees, &[]),
            Some(Refusal::NoStatedValue(AnswerKind::Money(Some(
                Currency::Euro
            ))))
        );
        // A sum on another subject does not answer.
        assert_eq!(
            policy.refusal("How much does the transition assistance cost?", &fees, &[]),
            Some(Refusal::NoStatedValue(AnswerKind::Money(None)))
        );
        // Nor does a sentence that shares only the word asking for the sum.
        let royalties = vec![passage(
            "This license is non-royalty bearing and the Licensee shall not pay any fees.",
            0.7,
        )];
        assert_eq!(
            policy.refusal(
                "How much did Prisma pay for the server it used?",
                &royalties,
                &[]
            ),
            Some(Refusal::NoStatedValue(AnswerKind::Money(None)))
        );
        assert_eq!(
            policy.refusal("Does the Licensee pay any royalties?", &royalties, &[]),
            None
        );
        assert_eq!(
            policy.refusal(
                "How much must the Licensee pay in royalties?",
                &royalties,
                &[]
            ),
            None,
            "the subject (royalties) is there, stated free"
        );
    }

    #[test]
    fn key_terms_missing_from_the_passages_refuse() {
        let passages = vec![
            passage(
                "Jonathan Carter was elected in April 2020. The DPL serves a year.",
                0.7,
            ),
            passage("Elections are held every year.", 0.6),
        ];
        let policy = RefusalPolicy::default();
        assert_eq!(
            policy.refusal("Who was elected in April 2022?", &passages, &[]),
            Some(Refusal::MissingTerm("2022".into()))
        );
        assert_eq!(
            policy.refusal("Was the DPL cleared by the FDA?", &passages, &[]),
            Some(Refusal::MissingTerm("FDA".into()))
        );
        assert_eq!(
            policy.refusal("Who was elected in April 2020?", &passages, &[]),
            None
        );
        assert_eq!(
            policy.refusal("What does the AGREEMENT say of elections?", &passages, &[]),
            None,
            "an all-capitals word longer than 6 letters is not an acronym"
        );
    }
}
