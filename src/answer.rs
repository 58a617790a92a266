//! From retrieved passages to a grounded answer: whether to answer at all, the prompt the
//! model sees, and the citations, which come from the passages and never from the model.

use std::collections::HashSet;

use crate::retrieve::Passage;

/// What the user is told when the documents do not hold the answer.
pub const REFUSAL: &str = "The documents do not contain the answer to this question.";

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
    let mut terms = Vec::new();
    let mut current = String::new();
    let chars: Vec<char> = text.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        let inner_number_mark = matches!(c, ',' | '.')
            && current.chars().last().is_some_and(|p| p.is_ascii_digit())
            && chars.get(i + 1).is_some_and(|n| n.is_ascii_digit());
        if c.is_alphanumeric() || inner_number_mark {
            current.extend(c.to_lowercase());
        } else if !current.is_empty() {
            terms.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        terms.push(current);
    }
    terms.retain(|t| {
        !STOP_WORDS.contains(&t.as_str()) && (t.len() > 1 || t.chars().all(|c| c.is_ascii_digit()))
    });
    terms
}

/// A crude stem so that "terminate" meets "termination" and "days" meets "day".
fn stem(term: &str) -> &str {
    let cut = term
        .char_indices()
        .nth(5)
        .map(|(i, _)| i)
        .unwrap_or(term.len());
    &term[..cut]
}

fn stems(text: &str) -> HashSet<String> {
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

/// When to answer at all, calibrated on samples/qa.jsonl and the development set
/// samples/eval/qa.jsonl (BENCHMARKS.md). Two signals:
/// - the best passage's cosine similarity: every answerable question's best passage scored
///   at least 0.29, questions on absent topics at most 0.15;
/// - the question's key terms: a number it names must occur (as a whole term), and an
///   acronym it names must occur, in the retrieved passages, the ten best chunks (before
///   one-per-page collapsing, which can hide the chunk that holds it) or their file names.
///   A question about "April 2022" or "the FDA" that the documents never mention is about
///   something they do not cover, however close the topic is.
///
/// General word-overlap thresholds were tried and dropped: paraphrased questions share few
/// words with their answer (30% of answerable questions refused, no unanswerable one).
#[derive(Debug, Clone, Copy)]
pub struct RefusalPolicy {
    /// Below this cosine similarity of the best passage, refuse without calling the model.
    pub min_score: f32,
    /// Check the question's numbers and acronyms against the passages.
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
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::WeakRetrieval => write!(f, "no passage is close enough to the question"),
            Refusal::MissingTerm(t) => write!(f, "the passages never mention \"{t}\""),
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
        missing_key_term(question, &pool).map(Refusal::MissingTerm)
    }
}

/// A number without its thousands separators, so that "48,500" meets "48500".
fn number_key(term: &str) -> String {
    term.replace(',', "")
}

fn is_number(term: &str) -> bool {
    term.chars().any(|c| c.is_ascii_digit())
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

fn shorten(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_owned();
    }
    // No ellipsis: the cut sentence is still quoted verbatim.
    let cut: String = text.chars().take(max_chars).collect();
    cut.rsplit_once(' ')
        .map(|(head, _)| head.to_owned())
        .unwrap_or(cut)
}

/// A sentence of a retrieved passage selected as evidence for the question.
#[derive(Debug, Clone)]
pub struct Evidence {
    /// Index of the passage it comes from.
    pub passage: usize,
    /// Position of the sentence in its passage, to keep reading order.
    pub position: usize,
    pub sentence: String,
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

/// Whether a question asks for an amount, a date, a duration or a count.
fn asks_for_quantity(question: &str) -> bool {
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

/// The sentences of a model's answer, without the "[n]" markers it may invent (citations
/// are attached by dossier) and without a leading "Answer:".
pub fn answer_sentences(answer: &str) -> Vec<String> {
    let mut text = answer.trim();
    for prefix in ["Answer:", "answer:", "A:"] {
        text = text.strip_prefix(prefix).unwrap_or(text).trim_start();
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

/// The numbers of `text` as whole terms without thousands separators, plus the digits of
/// number words ("two days" states 2).
fn numbers_of(text: &str) -> HashSet<String> {
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
fn names(sentence: &str) -> Vec<String> {
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

/// How one sentence of an answer stands against the evidence.
#[derive(Debug, Clone)]
pub struct SentenceCheck {
    pub text: String,
    /// Every number it states is in the evidence and most of its content words are (or
    /// some are and it means what an evidence sentence says, by embedding similarity).
    pub supported: bool,
    /// Indices into the evidence of the sentences that back it, best first (empty when
    /// unsupported).
    pub evidence: Vec<usize>,
}

/// Checks each answer sentence against the evidence. `cosine[i][j]`, when given, is the
/// embedding similarity of sentence `i` and evidence sentence `j`. Numbers must occur in
/// the evidence as whole terms ("12" is not backed by "12.1" or "120"), and a citing
/// evidence sentence must state one of the sentence's numbers when the sentence has any.
pub fn check_sentences(
    question: &str,
    sentences: &[String],
    evidence: &[Evidence],
    cosine: Option<&[Vec<f32>]>,
) -> Vec<SentenceCheck> {
    let evidence_text: String = evidence
        .iter()
        .map(|e| e.sentence.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    let evidence_numbers = numbers_of(&evidence_text);
    let per_evidence_numbers: Vec<HashSet<String>> =
        evidence.iter().map(|e| numbers_of(&e.sentence)).collect();
    let evidence_stems = stems(&evidence_text);
    let question_stems = stems(question);
    sentences
        .iter()
        .enumerate()
        .map(|(i, sentence)| {
            let terms = content_terms(sentence);
            let numbers: Vec<String> = terms
                .iter()
                .filter(|t| is_number(t))
                .map(|t| number_key(t))
                .collect();
            let numbers_found = numbers.iter().all(|n| evidence_numbers.contains(n));
            // A name the sentence brings in ("Berlin") must come from the evidence too,
            // unless the question named it.
            let names_found = names(sentence).iter().all(|n| {
                let s = stem(n);
                evidence_stems.contains(s) || question_stems.contains(s)
            });
            let coverage = term_coverage(sentence, &evidence_text);
            let similarity = |j: usize| {
                cosine
                    .and_then(|c| c.get(i))
                    .and_then(|row| row.get(j))
                    .copied()
                    .unwrap_or(0.0)
            };
            let best_similarity = (0..evidence.len()).map(similarity).fold(0.0, f32::max);
            let supported = !terms.is_empty()
                && numbers_found
                && names_found
                && (coverage >= 0.5 || (coverage >= 0.3 && best_similarity >= 0.7));
            let mut cited = Vec::new();
            if supported {
                let mut ranked: Vec<(f32, usize)> = evidence
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| {
                        numbers.is_empty()
                            || numbers.iter().any(|n| per_evidence_numbers[*j].contains(n))
                    })
                    .map(|(j, e)| {
                        let shared = term_coverage(sentence, &e.sentence);
                        let stated = numbers
                            .iter()
                            .filter(|n| per_evidence_numbers[j].contains(*n))
                            .count() as f32
                            / numbers.len().max(1) as f32;
                        (shared + 0.5 * stated + 0.5 * similarity(j), j)
                    })
                    .collect();
                ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
                if let Some(&(best, j)) = ranked.first() {
                    cited.push(j);
                    // A second quote from another passage when it backs the sentence
                    // nearly as well (the same fact stated twice).
                    if let Some(&(_, k)) = ranked.iter().skip(1).find(|(score, k)| {
                        *score >= 0.8 * best
                            && evidence[*k].passage != evidence[j].passage
                            && term_coverage(sentence, &evidence[*k].sentence) >= 0.5
                    }) {
                        cited.push(k);
                    }
                }
            }
            SentenceCheck {
                text: sentence.clone(),
                supported: supported && !cited.is_empty(),
                evidence: cited,
            }
        })
        .collect()
}

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

    fn passage(text: &str, score: f32) -> Passage {
        Passage {
            file_name: "contract.pdf".into(),
            path: "/x/contract.pdf".into(),
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

    #[test]
    fn content_terms_drop_stop_words_and_keep_numbers_whole() {
        assert_eq!(
            content_terms("What is the fee of $1,500.00 per month?"),
            vec!["fee", "1,500.00", "month"]
        );
    }

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
    fn refusal_policy_refuses_weak_or_missing_passages() {
        let policy = RefusalPolicy::default();
        assert!(policy.should_refuse(&[]));
        assert!(policy.should_refuse(&[passage("The fee is 10.", 0.1)]));
        assert!(!policy.should_refuse(&[passage("The fee is 10.", 0.4)]));
    }

    #[test]
    fn evidence_keeps_the_question_s_sentences_and_checks_answers_against_them() {
        let passages = vec![
            passage("Fees are due monthly. Either party may terminate with 120 days notice. Notices go by post.", 0.6),
            passage("Late payments carry 1.25% interest per month.", 0.4),
        ];
        let evidence = select_evidence("How much notice to terminate?", &passages, 2, None);
        assert_eq!(
            evidence[0].sentence,
            "Either party may terminate with 120 days notice."
        );
        let prompt = build_evidence_prompt("How much notice to terminate?", &passages, &evidence);
        assert!(
            prompt.starts_with("Sources:\n[1] contract.pdf, page 2: "),
            "{prompt}"
        );
        let check = |answer: &str| {
            check_sentences(
                "How much notice to terminate?",
                &answer_sentences(answer),
                &evidence,
                None,
            )
            .into_iter()
            .map(|c| (c.supported, c.evidence))
            .collect::<Vec<_>>()
        };
        assert_eq!(check("120 days notice."), vec![(true, vec![0])]);
        assert_eq!(check("1.25 days."), vec![(false, vec![])]);
        assert_eq!(
            check("12 days notice."),
            vec![(false, vec![])],
            "a number is matched whole"
        );
        assert_eq!(
            check("Either party may terminate in Berlin with 120 days notice."),
            vec![(false, vec![])],
            "a name the evidence does not hold"
        );
        assert_eq!(
            check("Notice is 120 days [2]. The fee is 99 dollars."),
            vec![(true, vec![0]), (false, vec![])],
            "each sentence is checked on its own; invented markers are dropped"
        );
    }

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

    #[test]
    fn number_words_in_the_evidence_back_digits() {
        let passages = vec![passage("Merging the files took two days of work.", 0.6)];
        let evidence = select_evidence("How long did merging take?", &passages, 1, None);
        let checks = check_sentences(
            "How long did merging take?",
            &["It took 2 days.".to_owned()],
            &evidence,
            None,
        );
        assert!(checks[0].supported, "{checks:?}");
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
