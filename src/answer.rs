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

/// When to answer at all, calibrated on samples/qa.jsonl (BENCHMARKS.md): every answerable
/// question's best passage scored at least 0.34, questions on absent topics at most 0.15.
/// Word-overlap thresholds were tried and dropped: they refused 30% of answerable
/// questions (paraphrases share few words) and none of the unanswerable ones.
#[derive(Debug, Clone, Copy)]
pub struct RefusalPolicy {
    /// Below this cosine similarity of the best passage, refuse without calling the model.
    pub min_score: f32,
}

impl Default for RefusalPolicy {
    fn default() -> Self {
        Self { min_score: 0.25 }
    }
}

impl RefusalPolicy {
    /// True when the passages are too weak to answer from.
    pub fn should_refuse(&self, passages: &[Passage]) -> bool {
        passages
            .first()
            .is_none_or(|best| best.score < self.min_score)
    }
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
    let cut: String = text.chars().take(max_chars).collect();
    let cut = cut.rsplit_once(' ').map(|(head, _)| head).unwrap_or(&cut);
    format!("{cut}…")
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
pub fn select_evidence(
    question: &str,
    passages: &[Passage],
    max_sentences: usize,
) -> Vec<Evidence> {
    let wanted = stems(question);
    let wants_quantity = asks_for_quantity(question);
    let mut candidates: Vec<Evidence> = Vec::new();
    for (p, passage) in passages.iter().enumerate() {
        for (position, sentence) in sentences(&passage.text).into_iter().enumerate() {
            let have = stems(sentence);
            if have.is_empty() {
                continue;
            }
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
                score: (coverage + quantity_bonus) * fragment_penalty + 0.5 * passage.score,
            });
        }
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

/// Whether the generated answer is backed by the evidence: every number it states appears in
/// the evidence, and most of its content words do. A small model that invents a figure
/// fails this, and its answer is replaced by the evidence itself.
pub fn is_supported(answer: &str, evidence: &[Evidence]) -> bool {
    let evidence_text: String = evidence
        .iter()
        .map(|e| e.sentence.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    let evidence_terms: HashSet<String> = content_terms(&evidence_text).into_iter().collect();
    let answer_terms = content_terms(answer);
    let numbers_found = answer_terms
        .iter()
        .filter(|t| t.chars().any(|c| c.is_ascii_digit()))
        // Whole terms only: "12" is not backed by "12.1" or "120".
        .all(|n| evidence_terms.contains(n));
    numbers_found && (answer_terms.is_empty() || term_coverage(answer, &evidence_text) >= 0.5)
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
        let evidence = select_evidence("How much notice to terminate?", &passages, 2);
        assert_eq!(
            evidence[0].sentence,
            "Either party may terminate with 120 days notice."
        );
        let prompt = build_evidence_prompt("How much notice to terminate?", &passages, &evidence);
        assert!(
            prompt.starts_with("Sources:\n[1] contract.pdf, page 2: "),
            "{prompt}"
        );
        assert!(is_supported("120 days notice.", &evidence[..1]));
        assert!(!is_supported("1.25 days.", &evidence[..1]));
        assert!(
            !is_supported("12 days notice.", &evidence[..1]),
            "a number is matched whole"
        );
    }
}
