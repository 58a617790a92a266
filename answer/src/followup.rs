//! Follow-up questions of a conversation rewritten as standalone retrieval queries.
//!
//! A follow-up that points back (a pronoun, an elliptic opening such as "and" or "what
//! about", or no content word at all) gets the previous query's terms that it lacks
//! appended, at most eight; any other question is searched as it is.

use crate::text::{content_terms, stem, stems};

/// Words by which a follow-up question points back at the previous one.
const BACK_REFERENCES: &[&str] = &[
    "it", "its", "they", "them", "their", "theirs", "this", "that", "these", "those", "he", "him",
    "his", "she", "her", "hers", "there", "same", "one", "ones",
];

/// Openings of an elliptic follow-up ("and for London?", "what about the fee?").
const ELLIPTIC_STARTS: &[&str] = &[
    "and ",
    "what about",
    "how about",
    "what of ",
    "also ",
    "but ",
];

/// Turns a follow-up question of a conversation into a standalone retrieval query: when it
/// points back (a pronoun, an elliptic opening, or no content word at all), the content
/// terms of the previous query that it lacks are appended in parentheses (at most eight).
/// Deterministic on purpose: a 135M model rewrites questions worse than it answers them.
pub fn standalone_query(question: &str, previous: Option<&str>) -> String {
    let question = question.trim();
    let Some(previous) = previous else {
        return question.to_owned();
    };
    let lower = question.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_alphanumeric() && c != '\'')
        .map(|w| w.trim_end_matches("'s"))
        .filter(|w| !w.is_empty())
        .collect();
    let points_back = words.iter().any(|w| BACK_REFERENCES.contains(w))
        || ELLIPTIC_STARTS.iter().any(|s| lower.starts_with(s))
        || content_terms(question).is_empty();
    if !points_back {
        return question.to_owned();
    }
    let have = stems(question);
    let mut carried: Vec<String> = Vec::new();
    for term in content_terms(previous) {
        let s = stem(&term).to_owned();
        if !have.contains(&s) && !carried.iter().any(|c| stem(c) == s) {
            carried.push(term);
        }
    }
    carried.truncate(8);
    if carried.is_empty() {
        question.to_owned()
    } else {
        format!("{question} ({})", carried.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follow_ups_carry_the_previous_question_s_terms() {
        let first = "What stent was placed during the catheterization?";
        assert_eq!(standalone_query(first, None), first);
        assert_eq!(
            standalone_query("What size was it?", Some(first)),
            "What size was it? (stent placed during catheterization)"
        );
        assert_eq!(
            standalone_query("And in Paris?", Some("Hotel limit per night in London?")),
            "And in Paris? (hotel limit night london)"
        );
        assert_eq!(
            standalone_query("How long is the probationary period?", Some(first)),
            "How long is the probationary period?",
            "a question that stands alone is left as it is"
        );
    }
}
