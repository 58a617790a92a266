//! What a question asks, as the refusal policy, evidence selection, the support check and
//! the fallback quote all read it.
//!
//! - A question opening with an auxiliary verb ("Does…", "Will…"), also after a leading
//!   condition ("If it fails, will…"), is answered by yes or no, and its answer may repeat
//!   its words.
//! - "Who", "whose", "the name of" or "which company" ask for a name.
//! - The lower-case words say what it asks about; capitalised ones name whom or what it
//!   asks it of, which the documents mention all over.

use std::collections::HashSet;

use crate::text::{content_terms, stem, words};

/// Whether a question asks for an amount, a date, a duration or a count.
pub(crate) fn asks_for_quantity(question: &str) -> bool {
    let lower = question.to_lowercase();
    const CUES: &[&str] = &[
        "how much",
        "how many",
        "how long",
        "how soon",
        "how quickly",
        "how often",
        "how far",
        "when ",
        "what date",
        "what time",
        "what dose",
        "what rate",
        "what fee",
        "what amount",
        "what percentage",
        "what size",
        "what level",
        "what weight",
        "what limit",
        "most ",
        "maximum",
        "minimum",
        "highest",
        "lowest",
        "deadline",
    ];
    CUES.iter().any(|cue| lower.contains(cue))
}

/// Whether `question` asks for a person or an organisation by name ("who", "whose", "what
/// is the name of", "which company"): its answer names someone the question does not.
pub(crate) fn asks_for_name(question: &str) -> bool {
    const WHO: &[&str] = &["who", "whom", "whose"];
    const NAMED: &[&str] = &[
        "company",
        "companies",
        "firm",
        "organisation",
        "organization",
        "person",
        "people",
        "doctor",
        "physician",
    ];
    let w = words(question);
    // "Who" as the question's own word, not a relative one ("someone who has joined").
    let asks_who = w.iter().enumerate().any(|(i, x)| {
        WHO.contains(&x.as_str())
            && (i == 0
                || matches!(
                    w[i - 1].as_str(),
                    "and" | "to" | "by" | "for" | "with" | "from" | "of"
                ))
    });
    asks_who
        || w.windows(3)
            .any(|t| t[0] == "the" && t[1] == "name" && t[2] == "of")
        || w.windows(2)
            .any(|p| matches!(p[0].as_str(), "which" | "what") && NAMED.contains(&p[1].as_str()))
}

/// Whether `question` asks for a yes or a no, whose answer may well repeat its words; also
/// after a leading condition ("If sending fails, will the viewer retry?").
pub fn is_yes_no(question: &str) -> bool {
    const OPENINGS: &[&str] = &[
        "do", "does", "did", "is", "are", "was", "were", "can", "could", "may", "might", "will",
        "would", "has", "have", "had", "should", "must", "shall",
    ];
    let opens = |clause: &str| {
        clause
            .split_whitespace()
            .next()
            .is_some_and(|w| OPENINGS.contains(&w.to_lowercase().as_str()))
    };
    let conditional = question
        .split_whitespace()
        .next()
        .is_some_and(|w| ["if", "when", "once"].contains(&w.to_lowercase().as_str()));
    opens(question) || (conditional && question.split_once(',').is_some_and(|(_, c)| opens(c)))
}

/// The question's stems, plus the joins of neighbouring terms ("Tcl/Tk" also gives
/// "tcltk", as a file name or package name may spell it).
pub(crate) fn asked_stems(question: &str) -> HashSet<String> {
    let terms = content_terms(question);
    let mut out: HashSet<String> = terms.iter().map(|t| stem(t).to_owned()).collect();
    for pair in terms.windows(2) {
        out.insert(stem(&format!("{}{}", pair[0], pair[1])).to_owned());
    }
    out
}

/// Stems of the question's words written in lower case: what it asks about ("cholesterol
/// level", "dress code", "synonyms"), as opposed to the names of whom or what it asks it
/// (a patient, a company, a product), which the documents mention all over.
pub(crate) fn asked_about(question: &str) -> HashSet<String> {
    question
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty() && w.chars().all(|c| c.is_lowercase()))
        .flat_map(content_terms)
        .map(|t| stem(&t).to_owned())
        .collect()
}
