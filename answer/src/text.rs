//! How every rule of the crate reads text: words, content terms, stems and numbers.
//!
//! - Stop words carry no topic and never count as a match.
//! - A number is one term with its inner punctuation ("1,500", "3.5") and is compared
//!   without thousands separators, so "48,500" meets "48500" but "12" never meets "12.1".
//! - Terms meet by stem (their first five characters), so "terminate" meets "termination".

use std::collections::HashSet;

/// Words that carry no topic: matching them says nothing about relevance.
#[rustfmt::skip]
const STOP_WORDS: &[&str] = &[
    "a", "about", "above", "after", "again", "all", "also", "am", "an", "and", "any", "are", "as",
    "at", "be", "been", "before", "being", "between", "both", "but", "by", "can", "could", "did",
    "do", "does", "doing", "done", "each", "for", "from", "had", "has", "have", "having", "he",
    "her", "here", "him", "his", "how", "i", "if", "in", "into", "is", "it", "its", "just", "me",
    "might", "more", "most", "must", "my", "no", "nor", "not", "of", "on", "once", "only", "or",
    "other", "our", "out", "over", "own", "per", "same", "shall", "she", "should", "so", "some",
    "such", "than", "that", "the", "their", "them", "then", "there", "these", "they", "this",
    "those", "through", "to", "too", "under", "until", "up", "upon", "very", "was", "we", "were",
    "what", "when", "where", "which", "while", "who", "whom", "why", "will", "with", "would",
    "you", "your", "say", "says", "tell", "according", "document", "documents", "please", "many",
    "much", "get", "gets", "give", "given", "long", "us",
];

/// Lower-cased words and numbers of `text`, without stop words. Numbers keep their inner
/// punctuation ("1,500", "3.5") so that they match exactly.
pub fn content_terms(text: &str) -> Vec<String> {
    let mut terms = words(text);
    // `words` also yields currency signs as words; terms are letters and digits only.
    terms.retain(|t| {
        t.starts_with(char::is_alphanumeric)
            && !STOP_WORDS.contains(&t.as_str())
            && (t.len() > 1 || t.chars().all(|c| c.is_ascii_digit()))
    });
    terms
}

/// A crude stem so that "terminate" meets "termination" and "days" meets "day".
pub(crate) fn stem(term: &str) -> &str {
    let cut = term
        .char_indices()
        .nth(5)
        .map(|(i, _)| i)
        .unwrap_or(term.len());
    &term[..cut]
}

pub(crate) fn stems(text: &str) -> HashSet<String> {
    content_terms(text)
        .iter()
        .map(|t| stem(t).to_owned())
        .collect()
}

/// Share of the question's content stems found in `text` (0 when the question has none).
pub fn term_coverage(question: &str, text: &str) -> f32 {
    let wanted = stems(question);
    if wanted.is_empty() {
        return 0.0;
    }
    let have = stems(text);
    wanted.iter().filter(|s| have.contains(*s)).count() as f32 / wanted.len() as f32
}

/// A number without its thousands separators, so that "48,500" meets "48500".
pub(crate) fn number_key(term: &str) -> String {
    term.replace(',', "")
}

pub(crate) fn is_number(term: &str) -> bool {
    term.chars().any(|c| c.is_ascii_digit())
}

/// Lower-cased words of `text`, with currency signs as words of their own ("$1,500" gives
/// "$", "1,500"); numbers keep inner separators.
pub(crate) fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let chars: Vec<char> = text.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        let inner_number_mark = matches!(c, ',' | '.')
            && current.chars().last().is_some_and(|p| p.is_ascii_digit())
            && chars.get(i + 1).is_some_and(|n| n.is_ascii_digit());
        if c.is_alphanumeric() || inner_number_mark {
            current.extend(c.to_lowercase());
            continue;
        }
        if !current.is_empty() {
            out.push(std::mem::take(&mut current));
        }
        if matches!(c, '$' | '€' | '£' | '¥') {
            out.push(c.to_string());
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

pub(crate) fn shorten(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_owned();
    }
    // No ellipsis: the cut sentence is still quoted verbatim.
    let cut: String = text.chars().take(max_chars).collect();
    cut.rsplit_once(' ')
        .map(|(head, _)| head.to_owned())
        .unwrap_or(cut)
}

/// The numbers of `text` as whole terms without thousands separators, plus the digits of
/// number words ("two days" states 2).
pub(crate) fn numbers_of(text: &str) -> HashSet<String> {
    const WORDS: &[&str] = &[
        "zero",
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        "eleven",
        "twelve",
        "thirteen",
        "fourteen",
        "fifteen",
        "sixteen",
        "seventeen",
        "eighteen",
        "nineteen",
        "twenty",
    ];
    content_terms(text)
        .into_iter()
        .chain(
            text.split(|c: char| !c.is_alphanumeric())
                .map(str::to_lowercase)
                .filter_map(|w| WORDS.iter().position(|n| *n == w).map(|i| i.to_string())),
        )
        .filter(|t| is_number(t))
        .map(|t| number_key(&t))
        .collect()
}

/// Capitalised words of a sentence after its first word (names, places), lower-cased.
pub(crate) fn names(sentence: &str) -> Vec<String> {
    sentence
        .split(|c: char| !c.is_alphanumeric() && c != '-')
        .filter(|w| !w.is_empty())
        .skip(1)
        .filter(|w| {
            w.chars().count() >= 3
                && w.chars().next().is_some_and(char::is_uppercase)
                && w.chars().skip(1).all(|c| c.is_lowercase())
        })
        .map(str::to_lowercase)
        .collect()
}

/// Words of `text` written with a capital and some lower case ("Helga", "Caldwell-Mbeki",
/// "McGovern"), lower-cased, wherever they stand: the names a sentence writes.
pub(crate) fn capitalised(text: &str) -> HashSet<String> {
    text.split(|c: char| !c.is_alphanumeric() && c != '-')
        .filter(|w| {
            w.chars().next().is_some_and(char::is_uppercase) && w.chars().any(char::is_lowercase)
        })
        .map(str::to_lowercase)
        .collect()
}

/// Words joined by inner punctuation ("tcl-foo", "C-k", "OS/2", "R-Forge"), lower-cased.
/// `words` splits them, yet as a whole they are often the very name an answer gives:
/// "tcl-foo" answers "what is a Tcl module called foo named" although "tcl" and "foo" are
/// both the question's words.
pub(crate) fn compounds(text: &str) -> HashSet<String> {
    text.split_whitespace()
        .map(|w| {
            w.trim_matches(|c: char| !c.is_alphanumeric())
                .trim_end_matches("'s")
                .trim_end_matches("’s")
        })
        .filter(|w| {
            let inner: Vec<char> = w.chars().collect();
            // Numbers ("3.6.0", "1-800-555") are matched as numbers already.
            inner.iter().any(|c| c.is_alphabetic())
                && inner.windows(3).any(|t| {
                    t[0].is_alphanumeric()
                        && matches!(t[1], '-' | '/' | '_' | '+' | ':' | '.')
                        && t[2].is_alphanumeric()
                })
        })
        .map(str::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_terms_drop_stop_words_and_keep_numbers_whole() {
        assert_eq!(
            content_terms("What is the fee of $1,500.00 per month?"),
            vec!["fee", "1,500.00", "month"]
        );
    }
}
