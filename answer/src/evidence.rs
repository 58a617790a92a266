//! Sentences, and the evidence sentences the model answers from.
//!
//! - A sentence ends at ".", "!" or "?" before a capital, a digit, "(" or a quote, but not
//!   after a title ("Dr.", "Mrs."); a line break ends one too, and lines that the page's
//!   layout cut mid-sentence are joined again.
//! - Evidence is at most the requested number of passage sentences, ranked by the share of
//!   the question's terms they hold, a bonus for stating a figure when one is asked for, a
//!   penalty for fragments, their passage's score and their embedding cosine with the
//!   question. The best passage's best sentence is always among them.
//! - The sentences of a model's answer lose "Answer:"-style openings and the "[n]" markers
//!   it may invent: citations are attached by dossier alone.

use crate::question::asks_for_quantity;
use crate::text::{shorten, stems};
use crate::Passage;

/// Whether `before` ends with a title that a name follows ("Dr", "Mrs"): its full stop
/// ends no sentence. Cut there, "coronary angiography was performed by Dr." loses the
/// doctor's name to the next "sentence", and an answer "Dr. Helga Marchetti" splits into
/// "Dr." and a bare name.
fn after_title(before: &str) -> bool {
    const TITLES: &[&str] = &["Mr", "Mrs", "Ms", "Dr", "Prof"];
    let word = before
        .rsplit(|c: char| !c.is_alphanumeric())
        .next()
        .unwrap_or("");
    TITLES.contains(&word)
}

/// Splits text into sentences at ., ! or ? followed by whitespace and an upper-case letter
/// or digit, and at line breaks between what look like separate lines (headings, table rows).
pub fn sentences(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let bytes: Vec<(usize, char)> = text.char_indices().collect();
    for (k, &(i, c)) in bytes.iter().enumerate() {
        let next = bytes.get(k + 1).map(|&(_, n)| n);
        let after = bytes.get(k + 2).map(|&(_, n)| n);
        let end_of_sentence = matches!(c, '.' | '!' | '?')
            && !(c == '.' && after_title(&text[..i]))
            && next.is_some_and(char::is_whitespace)
            && after
                .is_some_and(|a| a.is_uppercase() || a.is_ascii_digit() || a == '(' || a == '"');
        let line_break = c == '\n';
        if end_of_sentence || line_break {
            let end = if line_break { i } else { i + c.len_utf8() };
            let piece = text[start..end].trim();
            if !piece.is_empty() {
                out.push(piece);
            }
            start = end;
        }
    }
    let tail = text[start..].trim();
    if !tail.is_empty() {
        out.push(tail);
    }
    // Lines cut by the PDF's layout are rejoined when they do not end a sentence.
    let mut merged: Vec<&str> = Vec::new();
    for piece in out {
        if let Some(last) = merged.last_mut() {
            let ends = last.ends_with(['.', '!', '?', ':', ';']);
            let continues = piece.starts_with(|c: char| c.is_lowercase())
                || last.split_whitespace().count() > 6;
            if !ends && continues {
                let from = last.as_ptr() as usize - text.as_ptr() as usize;
                let to = piece.as_ptr() as usize - text.as_ptr() as usize + piece.len();
                *last = &text[from..to];
                continue;
            }
        }
        merged.push(piece);
    }
    merged
}

/// A sentence of a retrieved passage selected as evidence for the question.
#[derive(Debug, Clone)]
pub struct Evidence {
    /// Index of the passage it comes from.
    pub passage: usize,
    /// Position of the sentence in its passage, to keep reading order.
    pub position: usize,
    /// The sentence, whitespace collapsed, cut to 400 characters at a word boundary.
    pub sentence: String,
    /// How well it matches the question; evidence is chosen best first.
    pub score: f32,
}

/// Picks at most `max_sentences` sentences from the passages that share the most content
/// words with the question, weighted by how well their passage matched. Small models answer
/// far better from a few relevant sentences than from whole chunks, and prompts stay short.
/// The best passage's best sentence is always kept.
///
/// `similarity`, when given, holds the embedding cosine of the question with each of
/// [`candidate_sentences`] in order; it is added to the score, so that a sentence that
/// means what the question asks beats one that merely shares its nouns.
pub fn select_evidence(
    question: &str,
    passages: &[Passage],
    max_sentences: usize,
    similarity: Option<&[f32]>,
) -> Vec<Evidence> {
    let wanted = stems(question);
    let wants_quantity = asks_for_quantity(question);
    let mut candidates: Vec<Evidence> = Vec::new();
    for (i, (p, position, sentence)) in candidate_sentences(passages).into_iter().enumerate() {
        let passage = &passages[p];
        let have = stems(sentence);
        let semantic = similarity.and_then(|s| s.get(i)).copied().unwrap_or(0.0);
        let shared = wanted.iter().filter(|w| have.contains(*w)).count() as f32;
        let coverage = shared / wanted.len().max(1) as f32;
        // A question about an amount, a date or a duration is answered by a sentence
        // that states one; a heading that merely repeats the question's nouns is not.
        let quantity_bonus = if wants_quantity && sentence.chars().any(|c| c.is_ascii_digit()) {
            0.3
        } else {
            0.0
        };
        let fragment_penalty = if sentence.split_whitespace().count() < 5 {
            0.5
        } else {
            1.0
        };
        candidates.push(Evidence {
            passage: p,
            position,
            sentence: shorten(
                &sentence.split_whitespace().collect::<Vec<_>>().join(" "),
                400,
            ),
            score: (coverage + quantity_bonus) * fragment_penalty + 0.5 * passage.score + semantic,
        });
    }
    let best_of_top = candidates
        .iter()
        .filter(|e| e.passage == 0)
        .max_by(|a, b| a.score.total_cmp(&b.score))
        .cloned();
    candidates.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut chosen: Vec<Evidence> = Vec::new();
    if let Some(best) = best_of_top {
        chosen.push(best);
    }
    for candidate in candidates {
        if chosen.len() >= max_sentences {
            break;
        }
        let duplicate = chosen
            .iter()
            .any(|c| c.passage == candidate.passage && c.position == candidate.position);
        if !duplicate {
            chosen.push(candidate);
        }
    }
    chosen.sort_by_key(|e| (e.passage, e.position));
    chosen
}

/// The sentences of the passages that can be evidence (those with a content word), as
/// (passage index, position in the passage, text), in passage order.
pub fn candidate_sentences(passages: &[Passage]) -> Vec<(usize, usize, &str)> {
    passages
        .iter()
        .enumerate()
        .flat_map(|(p, passage)| {
            sentences(&passage.text)
                .into_iter()
                .enumerate()
                .map(move |(position, s)| (p, position, s))
        })
        .filter(|(_, _, s)| !stems(s).is_empty())
        .collect()
}

/// How small models open an answer without saying anything yet; SmolLM2 often repeats it
/// ("The answer is: The answer is: …") when it has nothing to say.
const ANSWER_OPENINGS: &[&str] = &["answer:", "a:", "the answer is:", "the answer is"];

/// The sentences of a model's answer, without the "[n]" markers it may invent (citations
/// are attached by dossier) and without leading "Answer:" / "The answer is:" openings.
pub fn answer_sentences(answer: &str) -> Vec<String> {
    let mut text = answer.trim();
    while let Some(opening) = ANSWER_OPENINGS.iter().find(|o| {
        text.get(..o.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(o))
            // "The answer isn't…" is not an opening.
            && (o.ends_with(':') || text[o.len()..].starts_with(char::is_whitespace))
    }) {
        text = text[opening.len()..].trim_start();
    }
    let mut clean = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('[') {
        let after = &rest[open + 1..];
        match after.find(']') {
            Some(close)
                if close > 0
                    && after[..close]
                        .chars()
                        .all(|c| c.is_ascii_digit() || c == ',' || c == ' ') =>
            {
                clean.push_str(rest[..open].trim_end());
                rest = &after[close + 1..];
            }
            _ => {
                clean.push_str(&rest[..=open]);
                rest = after;
            }
        }
    }
    clean.push_str(rest);
    sentences(&clean)
        .into_iter()
        .map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|s| s.chars().any(char::is_alphanumeric))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_split_at_sentence_ends_and_rejoin_wrapped_lines() {
        let text = "The term is twelve months. Either party may\nterminate with notice.\nFees\nThe fee is 10.5 units.";
        assert_eq!(
            sentences(text),
            vec![
                "The term is twelve months.",
                "Either party may\nterminate with notice.",
                "Fees",
                "The fee is 10.5 units."
            ]
        );
    }

    #[test]
    fn answer_sentences_strip_prefixes_and_markers() {
        assert_eq!(
            answer_sentences("Answer: The fee is 10 [1]. It is due [1, 2] monthly."),
            vec!["The fee is 10.", "It is due monthly."]
        );
        assert_eq!(answer_sentences("See [a] note"), vec!["See [a] note"]);
    }

    #[test]
    fn titles_end_no_sentence() {
        assert_eq!(
            sentences(
                "Angiography was performed by Dr. Helga Marchetti. Mrs. Quillfeather went home."
            ),
            vec![
                "Angiography was performed by Dr. Helga Marchetti.",
                "Mrs. Quillfeather went home."
            ]
        );
        assert_eq!(
            sentences("The answer is no. The sender will retry."),
            vec!["The answer is no.", "The sender will retry."]
        );
    }
}
