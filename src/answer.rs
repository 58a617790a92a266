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

/// What kind of value a question asks for, when its words tell. Some sentence on the
/// question's subject must state a value of that kind, or the documents discuss the topic
/// without answering (a licence's liability clause with no sum in euros, a FAQ entry on
/// commercial support with no rate).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerKind {
    /// A sum of money, in the currency the question names if it names one.
    Money(Option<Currency>),
    /// Something per hour ("hourly rate", "dollars per hour").
    Hourly,
    /// A calendar date or year ("on what date", "which year").
    Date,
    /// A span of time ("how long", "how soon", "how much notice").
    Duration,
    /// A number ("how many", "how big").
    Number,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Currency {
    Dollar,
    Euro,
    Pound,
}

impl std::fmt::Display for AnswerKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AnswerKind::Money(None) => write!(f, "a sum of money"),
            AnswerKind::Money(Some(Currency::Dollar)) => write!(f, "a sum in dollars"),
            AnswerKind::Money(Some(Currency::Euro)) => write!(f, "a sum in euros"),
            AnswerKind::Money(Some(Currency::Pound)) => write!(f, "a sum in pounds sterling"),
            AnswerKind::Hourly => write!(f, "an hourly figure"),
            AnswerKind::Date => write!(f, "a date"),
            AnswerKind::Duration => write!(f, "a span of time"),
            AnswerKind::Number => write!(f, "a number"),
        }
    }
}

/// Lower-cased words of `text`, with currency signs as words of their own ("$1,500" gives
/// "$", "1,500"); numbers keep inner separators.
fn words(text: &str) -> Vec<String> {
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

const NUMBER_WORDS: &[&str] = &[
    "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
    "twelve", "fifteen", "twenty", "thirty", "forty", "fifty", "sixty", "hundred", "thousand",
    "million", "billion", "dozen", "half",
];

fn is_number_word(word: &str) -> bool {
    word.chars().any(|c| c.is_ascii_digit())
        || NUMBER_WORDS.contains(&word)
        || word.split('-').all(|part| NUMBER_WORDS.contains(&part))
}

/// Words that make a question ask for a sum of money.
const MONEY_CUES: &[&str] = &[
    "cost",
    "costs",
    "price",
    "prices",
    "priced",
    "pricing",
    "fee",
    "fees",
    "charge",
    "charges",
    "charged",
    "funding",
    "funded",
    "spend",
    "spent",
    "owe",
    "owes",
    "owed",
    "salary",
    "salaries",
    "wage",
    "wages",
    "budget",
    "worth",
    "reimbursed",
    "dollars",
    "dollar",
    "usd",
    "euros",
    "euro",
    "eur",
    "gbp",
    "sterling",
    "$",
    "€",
    "£",
];

/// Nouns after which "paid" describes time off, not a payment ("paid leave").
const PAID_TIME: &[&str] = &[
    "leave",
    "time",
    "day",
    "days",
    "holiday",
    "holidays",
    "vacation",
    "hours",
    "hour",
    "sick",
    "absence",
    "sabbatical",
    "parental",
    "volunteer",
    "break",
    "breaks",
    "week",
    "weeks",
];

const TIME_UNITS: &[&str] = &[
    "second",
    "seconds",
    "sec",
    "secs",
    "minute",
    "minutes",
    "min",
    "mins",
    "hour",
    "hours",
    "hr",
    "hrs",
    "day",
    "days",
    "week",
    "weeks",
    "month",
    "months",
    "year",
    "years",
    "yr",
    "yrs",
    "decade",
    "decades",
    "fortnight",
    "ms",
    "milliseconds",
    "microseconds",
];

const MONTHS: &[&str] = &[
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
    "jan",
    "feb",
    "mar",
    "apr",
    "jun",
    "jul",
    "aug",
    "sep",
    "sept",
    "oct",
    "nov",
    "dec",
];

/// The kinds of value `question` asks for (several when it asks for "dollars per hour").
pub fn asked_kinds(question: &str) -> Vec<AnswerKind> {
    let w = words(question);
    let has = |word: &str| w.iter().any(|x| x == word);
    let follows = |first: &str, second: &[&str]| {
        w.windows(2)
            .any(|p| p[0] == first && second.contains(&p[1].as_str()))
    };
    let mut kinds = Vec::new();
    let currency = if ["dollars", "dollar", "usd", "$"].iter().any(|c| has(c)) {
        Some(Currency::Dollar)
    } else if ["euros", "euro", "eur", "€"].iter().any(|c| has(c)) {
        Some(Currency::Euro)
    } else if ["gbp", "sterling", "£"].iter().any(|c| has(c)) {
        Some(Currency::Pound)
    } else {
        None
    };
    let money_word = w.iter().enumerate().any(|(i, word)| {
        let before = i.checked_sub(1).map(|j| w[j].as_str());
        let after = w.get(i + 1).map(String::as_str);
        match word.as_str() {
            // "in charge of" is about a person.
            "charge" => before != Some("in"),
            "pay" | "pays" | "paid" | "paying" => {
                !matches!(before, Some("much" | "many"))
                    && !after.is_some_and(|a| PAID_TIME.contains(&a))
            }
            other => MONEY_CUES.contains(&other),
        }
    });
    if currency.is_some() || money_word {
        kinds.push(AnswerKind::Money(currency));
    }
    if has("hourly")
        || ["per", "an", "each", "a"]
            .iter()
            .any(|p| follows(p, &["hour"]))
    {
        kinds.push(AnswerKind::Hourly);
    }
    if kinds.is_empty() {
        let lower = w.join(" ");
        let starts = |cues: &[&str]| cues.iter().any(|c| lower.contains(c));
        if starts(&[
            "what date",
            "which date",
            "what year",
            "which year",
            "what day",
        ]) {
            kinds.push(AnswerKind::Date);
        } else if starts(&[
            "how long",
            "how soon",
            "how quickly",
            "how much notice",
            "how much time",
            "how much leave",
            "how much paid leave",
        ]) {
            kinds.push(AnswerKind::Duration);
        } else if starts(&["how many", "how much", "how big", "how large", "what size"]) {
            kinds.push(AnswerKind::Number);
        }
    }
    kinds
}

/// Whether `sentence` states a value of `kind`.
fn states(kind: AnswerKind, sentence: &str) -> bool {
    let w = words(sentence);
    let lower = w.join(" ");
    let number_at = |i: usize| w.get(i).is_some_and(|x| is_number_word(x));
    let near_number = |i: usize, before: usize, after: usize| {
        (i.saturating_sub(before)..=i + after).any(|j| j != i && number_at(j))
    };
    match kind {
        AnswerKind::Money(currency) => {
            const FREE: &[&str] = &[
                "free of charge",
                "no charge",
                "no additional charge",
                "no cost",
                "without charge",
                "royalty free",
                "non royalty bearing",
            ];
            if currency.is_none() && FREE.iter().any(|f| lower.contains(f)) {
                return true;
            }
            let marks: &[&str] = match currency {
                Some(Currency::Dollar) => &["$", "usd", "dollar", "dollars", "us$", "cents"],
                Some(Currency::Euro) => &["€", "eur", "euro", "euros", "cents"],
                Some(Currency::Pound) => &["£", "gbp", "sterling", "pence"],
                None => &[
                    "$", "€", "£", "¥", "usd", "eur", "gbp", "chf", "jpy", "cad", "aud", "dollar",
                    "dollars", "euro", "euros", "cents", "pence", "yen", "francs", "sterling",
                ],
            };
            // "USD 48,500", "$ 20", "48,500 US dollars", "five hundred euros".
            w.iter()
                .enumerate()
                .any(|(i, x)| marks.contains(&x.as_str()) && near_number(i, 4, 1))
        }
        AnswerKind::Hourly => {
            let per_hour = [
                "per hour",
                "an hour",
                "each hour",
                "per hr",
                "hourly",
                "hour rate",
            ]
            .iter()
            .any(|p| lower.contains(p))
                || sentence.contains("/h");
            per_hour && w.iter().any(|x| is_number_word(x))
        }
        AnswerKind::Date => w.iter().enumerate().any(|(i, x)| {
            let year = x.len() == 4
                && x.chars().all(|c| c.is_ascii_digit())
                && (1000..2200).contains(&x.parse::<u32>().unwrap_or(0));
            year || (MONTHS.contains(&x.as_str()) && near_number(i, 1, 1))
        }),
        AnswerKind::Duration => {
            [
                "indefinitely",
                "permanently",
                "perpetual",
                "until",
                "as long as",
            ]
            .iter()
            .any(|p| lower.contains(p))
                || w.iter().enumerate().any(|(i, x)| {
                    let unit = TIME_UNITS.contains(&x.as_str())
                        || TIME_UNITS.iter().any(|u| {
                            x.strip_suffix(u).is_some_and(|n| {
                                !n.is_empty() && n.chars().all(|c| c.is_ascii_digit())
                            })
                        });
                    unit && (near_number(i, 3, 0)
                        || matches!(i.checked_sub(1).map(|j| w[j].as_str()), Some("a" | "an")))
                })
        }
        AnswerKind::Number => w.iter().any(|x| is_number_word(x)),
    }
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

/// Words of `text` written with a capital and some lower case ("Helga", "Caldwell-Mbeki",
/// "McGovern"), lower-cased, wherever they stand: the names a sentence writes.
fn capitalised(text: &str) -> HashSet<String> {
    text.split(|c: char| !c.is_alphanumeric() && c != '-')
        .filter(|w| {
            w.chars().next().is_some_and(char::is_uppercase) && w.chars().any(char::is_lowercase)
        })
        .map(str::to_lowercase)
        .collect()
}

/// Whether `question` asks for a person or an organisation by name ("who", "whose", "what
/// is the name of", "which company"): its answer names someone the question does not.
fn asks_for_name(question: &str) -> bool {
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
    /// Only the question's own words ("The policy imposes sanctions on packages that
    /// violate it"): it says nothing the question did not, so it is not supported, and an
    /// answer made only of such sentences is a refusal. A sentence that adds a word the
    /// evidence lacks (an invented figure) is unsupported but no echo.
    pub restates: bool,
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
fn asked_stems(question: &str) -> HashSet<String> {
    let terms = content_terms(question);
    let mut out: HashSet<String> = terms.iter().map(|t| stem(t).to_owned()).collect();
    for pair in terms.windows(2) {
        out.insert(stem(&format!("{}{}", pair[0], pair[1])).to_owned());
    }
    out
}

/// Stems of the words by which an answer frames itself ("The answer to the question is…");
/// they add nothing to the question.
const FRAMING_STEMS: &[&str] = &["answe", "quest", "sourc"];

/// The content stems of `sentence` that the question lacks, framing words left out.
fn added_stems(asked: &HashSet<String>, sentence: &str) -> Vec<String> {
    stems(sentence)
        .into_iter()
        .filter(|s| !asked.contains(s) && !FRAMING_STEMS.contains(&s.as_str()))
        .collect()
}

/// Words joined by inner punctuation ("tcl-foo", "C-k", "OS/2", "R-Forge"), lower-cased.
/// `words` splits them, yet as a whole they are often the very name an answer gives:
/// "tcl-foo" answers "what is a Tcl module called foo named" although "tcl" and "foo" are
/// both the question's words.
fn compounds(text: &str) -> HashSet<String> {
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

/// Whether `compound` only respells neighbouring words of the question ("tcltk-policy" for
/// "Tcl/Tk policy"): its letters and digits are a run of the question's content terms.
fn respells_question(question: &str, compound: &str) -> bool {
    let squeeze = |t: &str| -> String { t.chars().filter(|c| c.is_alphanumeric()).collect() };
    let target = squeeze(compound);
    let terms: Vec<String> = content_terms(question).iter().map(|t| squeeze(t)).collect();
    (0..terms.len()).any(|start| {
        let mut run = String::new();
        terms[start..].iter().any(|t| {
            run.push_str(t);
            run == target
        })
    }) || compounds(question).contains(compound)
}

/// What `sentence` says beyond `question`, as far as the evidence holds it: of `added` (its
/// content stems the question lacks) one the evidence has, or a compound that is more than
/// a respelling of the question's words and occurs whole in the evidence.
fn adds_from_evidence(
    question: &str,
    sentence: &str,
    added: &[String],
    evidence_stems: &HashSet<String>,
    evidence_compounds: &HashSet<String>,
) -> bool {
    added.iter().any(|s| evidence_stems.contains(s))
        || compounds(sentence)
            .iter()
            .any(|c| evidence_compounds.contains(c) && !respells_question(question, c))
}

/// Whether `sentence` says something beyond `question`: a content word or number that the
/// question lacks. Sentences that only echo the question (a heading, the FAQ's own
/// question, "X imposes sanctions on packages") do not answer it.
pub fn adds_to_question(question: &str, sentence: &str) -> bool {
    let asked = asked_stems(question);
    !added_stems(&asked, sentence).is_empty()
        || compounds(sentence)
            .iter()
            .any(|c| !respells_question(question, c))
}

/// Stems of the question's words written in lower case: what it asks about ("cholesterol
/// level", "dress code", "synonyms"), as opposed to the names of whom or what it asks it
/// (a patient, a company, a product), which the documents mention all over.
fn asked_about(question: &str) -> HashSet<String> {
    question
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty() && w.chars().all(|c| c.is_lowercase()))
        .flat_map(content_terms)
        .map(|t| stem(&t).to_owned())
        .collect()
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
    let evidence_compounds = compounds(&evidence_text);
    let question_stems = stems(question);
    let asked = asked_stems(question);
    let yes_no = is_yes_no(question);
    // A quote that backs an answer must state what the answer adds to the question
    // together with what the question asks about (one of its lower-case words), in one
    // sentence: "Brightwater Freight Holdings, Inc." holds the name an answer to "which
    // company owns the data center" gives, but says nothing of a data center, and a
    // patient's letterhead names people without saying which of them is her daughter.
    // Every word of such an answer is somewhere in the evidence, so word coverage alone
    // accepts it.
    let about = asked_about(question);
    let quote_stems: Vec<HashSet<String>> = evidence.iter().map(|e| stems(&e.sentence)).collect();
    let quote_compounds: Vec<HashSet<String>> =
        evidence.iter().map(|e| compounds(&e.sentence)).collect();
    let quote_names: Vec<HashSet<String>> =
        evidence.iter().map(|e| capitalised(&e.sentence)).collect();
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
            // What the sentence adds to the question must itself come from the evidence.
            let added = added_stems(&asked, sentence);
            let own_compounds = compounds(sentence);
            // A name the sentence brings in is its answer ("Brightwater Freight Holdings"):
            // the quote must write it as a name, not merely hold one of its words in lower
            // case ("a regional freight brokerage").
            let new_names: Vec<String> = names(sentence)
                .into_iter()
                .filter(|n| !question_stems.contains(stem(n)))
                .collect();
            let on_subject =
                |j: usize| about.is_empty() || quote_stems[j].iter().any(|t| about.contains(t));
            let states_answer_on_subject = |j: usize| {
                let on_subject = on_subject(j);
                let holds_answer = if new_names.is_empty() {
                    added.is_empty()
                        || added.iter().any(|t| quote_stems[j].contains(t))
                        || own_compounds.iter().any(|c| quote_compounds[j].contains(c))
                } else {
                    new_names.iter().any(|n| quote_names[j].contains(n))
                };
                on_subject && holds_answer
            };
            let adds = yes_no
                || adds_from_evidence(
                    question,
                    sentence,
                    &added,
                    &evidence_stems,
                    &evidence_compounds,
                );
            // An echo says nothing the question did not: none of its content words is new.
            // A sentence that adds an invented figure or name is no echo, only unsupported;
            // one without any content word ("The answer is: No.") is neither.
            let restates = !yes_no
                && !adds
                && added.is_empty()
                && stems(sentence).iter().any(|s| asked.contains(s));
            // A sentence that asks ("…, and for how long should she take it?") answers
            // nothing, however many of its words the evidence holds.
            let asks = sentence.trim_end().ends_with('?');
            let supported = !terms.is_empty()
                && !asks
                && numbers_found
                && names_found
                && adds
                && (coverage >= 0.5 || (coverage >= 0.3 && best_similarity >= 0.7));
            let mut cited = Vec::new();
            if supported {
                let states_a_number = |j: usize| {
                    numbers.is_empty()
                        || numbers.iter().any(|n| per_evidence_numbers[j].contains(n))
                };
                // Quotes on the question's subject that state one of the sentence's numbers
                // (any, when it has none), best backing first: (score, shared terms, index).
                let mut scored: Vec<(f32, f32, usize)> = (0..evidence.len())
                    .filter(|&j| on_subject(j) && states_a_number(j))
                    .map(|j| {
                        let shared = term_coverage(sentence, &evidence[j].sentence);
                        let stated = numbers
                            .iter()
                            .filter(|n| per_evidence_numbers[j].contains(*n))
                            .count() as f32
                            / numbers.len().max(1) as f32;
                        (shared + 0.5 * stated + 0.5 * similarity(j), shared, j)
                    })
                    .collect();
                scored.sort_by(|a, b| b.0.total_cmp(&a.0));
                // The ones that also hold the sentence's answer may back it.
                let ranked: Vec<(f32, f32, usize)> = scored
                    .iter()
                    .copied()
                    .filter(|&(_, _, j)| states_answer_on_subject(j))
                    .collect();
                if let Some(&(best, _, j)) = ranked.first() {
                    cited.push(j);
                    // A second quote from another passage when it backs the sentence
                    // nearly as well (the same fact stated twice).
                    if let Some(&(_, _, k)) = ranked.iter().skip(1).find(|(score, shared, k)| {
                        *score >= 0.8 * best
                            && evidence[*k].passage != evidence[j].passage
                            && *shared >= 0.5
                    }) {
                        cited.push(k);
                    }
                    // A sentence that joins figures from several quotes cites each of them:
                    // every number it states is on a cited page. Such a quote need not hold
                    // the sentence's names (the first one does), only speak of the subject.
                    for &(_, _, k) in &scored {
                        let uncovered = |n: &String| {
                            !cited.iter().any(|&c| per_evidence_numbers[c].contains(n))
                        };
                        if !cited.contains(&k)
                            && numbers
                                .iter()
                                .any(|n| uncovered(n) && per_evidence_numbers[k].contains(n))
                        {
                            cited.push(k);
                        }
                    }
                }
            }
            SentenceCheck {
                text: sentence.clone(),
                supported: supported && !cited.is_empty(),
                evidence: cited,
                restates,
            }
        })
        .collect()
}

/// The evidence sentence to show when no sentence of the model's answer is backed: the
/// best scored one that could answer the question: not a heading or the FAQ's own question
/// that merely repeats it, and about what the question asks (one of its lower-case content
/// words), not only about whom (a patient's name says nothing of her blood type). When
/// there is no such sentence the evidence only circles the question's topic, and the
/// answer is a refusal.
///
/// When the question asks for a kind of value (a sum of money, a date, a span of time, a
/// number), the sentence must state one: the model's answer was dropped because its value
/// is not in the evidence, and a quote without any such value cannot stand in for it ("How
/// much did they pay for the server?" is not answered by "the sources were tested on that
/// server", nor "On what date is the party?" by "11 paid holidays each year").
///
/// Without such a sentence, why: [`Refusal::NoStatedValue`] when sentences on the subject
/// exist but none states the kind of value asked for, else [`Refusal::NotAddressed`].
pub fn fallback_evidence(question: &str, evidence: &[Evidence]) -> Result<usize, Refusal> {
    let about = asked_about(question);
    let kinds = if is_yes_no(question) {
        Vec::new()
    } else {
        asked_kinds(question)
    };
    // A question for a person or an organisation is not answered by a sentence that names
    // nobody beyond the question ("she lives with her daughter" for the daughter's name).
    let wants_name = asks_for_name(question);
    let asked_names = capitalised(question);
    let names_someone_new = |s: &str| {
        // After its first word, which is capitalised whatever it is.
        let rest = s
            .split_once(char::is_whitespace)
            .map_or("", |(_, rest)| rest);
        capitalised(rest).iter().any(|n| !asked_names.contains(n))
    };
    let mut ranked: Vec<usize> = (0..evidence.len()).collect();
    ranked.sort_by(|&a, &b| evidence[b].score.total_cmp(&evidence[a].score));
    let on_subject: Vec<usize> = ranked
        .into_iter()
        .filter(|&j| {
            let s = evidence[j].sentence.trim();
            !s.ends_with('?')
                && s.split_whitespace().count() >= 5
                && adds_to_question(question, s)
                && (about.is_empty() || stems(s).iter().any(|t| about.contains(t)))
                && (!wants_name || names_someone_new(s))
        })
        .collect();
    match on_subject.iter().find(|&&j| {
        kinds
            .iter()
            .all(|&k| states(k, evidence[j].sentence.trim()))
    }) {
        Some(&j) => Ok(j),
        None if !on_subject.is_empty() => Err(Refusal::NoStatedValue(kinds[0])),
        None => Err(Refusal::NotAddressed),
    }
}

/// What to show when no sentence of the model's answer is backed (`checks` all
/// unsupported): the index of an evidence sentence to quote instead, or why the answer is
/// a refusal. When the model only echoed the question ("X imposes sanctions on packages
/// that violate it"), or no evidence sentence says more than the question about what it
/// asks (only about whom), the sources circle the topic without answering.
pub fn shown_instead(
    question: &str,
    checks: &[SentenceCheck],
    evidence: &[Evidence],
) -> Result<usize, Refusal> {
    let echoed = !checks.is_empty() && checks.iter().all(|c| c.restates);
    let best = fallback_evidence(question, evidence);
    if echoed {
        // An echo says only that the model found nothing to add; the evidence may still
        // answer (the naming rule "tcl-foo" for "what should the package for module foo be
        // named"). Its best sentence is shown only when it speaks of most of what the
        // question asks about (half its lower-case words or more): a sentence that merely
        // shares the topic ("the policy requirements for packages" for "what sanctions
        // does the policy impose") is no answer, and the echo stays a refusal.
        let about = asked_about(question);
        return best
            .ok()
            .filter(|&j| {
                let have = stems(&evidence[j].sentence);
                2 * about.iter().filter(|t| have.contains(*t)).count() >= about.len()
            })
            .ok_or(Refusal::OnlyRestated);
    }
    best
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
    fn a_sentence_joining_figures_from_two_quotes_cites_both() {
        let evidence_at = |passage: usize, sentence: &str| Evidence {
            passage,
            position: 0,
            sentence: sentence.to_owned(),
            score: 1.0,
        };
        let evidence = vec![
            evidence_at(
                0,
                "A customer who terminates early pays a fee of 500 euros.",
            ),
            evidence_at(1, "The customer may terminate on 120 days' written notice."),
        ];
        let checks = check_sentences(
            "What must the customer do to terminate?",
            &answer_sentences(
                "The customer may terminate this agreement for convenience on 120 days' written \
                 notice to the provider and pays 500 euros.",
            ),
            &evidence,
            None,
        );
        assert!(checks[0].supported, "{:?}", checks[0]);
        let mut cited = checks[0].evidence.clone();
        cited.sort();
        assert_eq!(cited, vec![0, 1], "each number's quote is cited");

        // The quote with the notice period names no one: it is cited for its number, the
        // quote with the address for the names.
        let evidence = vec![
            evidence_at(
                0,
                "This Agreement is between Brightwater Freight and Corvane Data Services LLC \
                 of 72 Alder Foundry.",
            ),
            evidence_at(
                1,
                "Either party may terminate this Agreement for convenience by giving 120 days' \
                 written notice.",
            ),
        ];
        let checks = check_sentences(
            "How much advance notice must the customer give to terminate the Corvane agreement \
             for convenience?",
            &answer_sentences(
                "The customer must provide 120 days' written notice to Corvane Data Services LLC \
                 of 72 Alder Foundry.",
            ),
            &evidence,
            None,
        );
        assert!(checks[0].supported, "{:?}", checks[0]);
        let mut cited = checks[0].evidence.clone();
        cited.sort();
        assert_eq!(cited, vec![0, 1], "the notice period's quote is cited");
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
    fn questions_ask_for_kinds_of_value() {
        use AnswerKind::*;
        let cases: &[(&str, &[AnswerKind])] = &[
            (
                "What is the maximum amount in euros Steinberg is liable for?",
                &[Money(Some(Currency::Euro))],
            ),
            ("How much did Prisma pay for the Sun-4/280?", &[Money(None)]),
            (
                "What hourly rate do the authors charge?",
                &[Money(None), Hourly],
            ),
            (
                "How much paid leave do I get when my baby is born?",
                &[Duration],
            ),
            ("Who is in charge of our engagement?", &[]),
            ("On what date was release 3.6.0 issued?", &[Date]),
            ("How long is the probationary period?", &[Duration]),
            ("How many packages did Debian 1.1 ship?", &[Number]),
            ("Which licence governs the combined work?", &[]),
        ];
        for (question, kinds) in cases {
            assert_eq!(asked_kinds(question), *kinds, "{question}");
        }
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
    fn sentences_that_only_echo_the_question_are_not_answers() {
        let question =
            "What sanctions does the Debian Tcl/Tk policy impose on packages that violate it?";
        let passages = vec![passage(
            "Debian Tcl/Tk Policy\nThis policy describes how packages of Tcl modules are \
             named and built by the tcltk-policy maintainers.",
            0.7,
        )];
        let evidence = select_evidence(question, &passages, 2, None);
        let checks = check_sentences(
            question,
            &answer_sentences(
                "The Debian Tcl/Tk policy imposes sanctions on packages that violate the tcltk-policy.",
            ),
            &evidence,
            None,
        );
        assert!(checks[0].restates && !checks[0].supported, "{checks:?}");
        assert!(!adds_to_question(question, "Debian Tcl/Tk Policy"));
        assert!(adds_to_question(
            question,
            "Packages of Tcl modules are named tcl-foo."
        ));
        assert_eq!(
            fallback_evidence(question, &evidence)
                .ok()
                .map(|j| evidence[j].sentence.starts_with("This policy")),
            Some(true),
            "the heading is not shown as an answer"
        );
        assert!(
            !check_sentences(
                "Do we owe Steinberg royalties?",
                &["We do not owe Steinberg royalties.".to_owned()],
                &select_evidence(
                    "Do we owe Steinberg royalties?",
                    &[passage(
                        "The licence is free: no royalties are owed to Steinberg.",
                        0.6
                    )],
                    1,
                    None
                ),
                None
            )[0]
            .restates,
            "the answer to a yes/no question may repeat it"
        );
    }

    #[test]
    fn an_invented_answer_is_no_echo_and_the_source_is_shown_when_it_is_on_the_subject() {
        let question = "How much storage does the simulated RF08 disk provide with three platters?";
        let passages = vec![passage(
            "SET RF 1P | one platter (256K) SET RF 3P | three platters (768K) SET RF 4P | \
             four platters (1024K)\nThe RF08 is a fixed head disk controller.",
            0.7,
        )];
        let evidence = select_evidence(question, &passages, 2, None);
        let checks = check_sentences(
            question,
            &answer_sentences("The simulated RF08 disk provides 3.1 GB with three platters."),
            &evidence,
            None,
        );
        assert!(
            !checks[0].supported && !checks[0].restates,
            "an invented figure is unsupported, not an echo: {checks:?}"
        );
        assert_eq!(
            fallback_evidence(question, &evidence)
                .ok()
                .map(|j| evidence[j].sentence.contains("768K")),
            Some(true)
        );
        // A model that says nothing at all is not echoing either.
        assert!(answer_sentences("The answer is: The answer is: The answer is:").is_empty());
        assert_eq!(answer_sentences("The answer is: No."), vec!["No."]);
        assert_eq!(
            answer_sentences("The answer isn't given."),
            vec!["The answer isn't given."]
        );
    }

    #[test]
    fn a_name_spelled_as_a_compound_of_the_question_s_words_answers_it() {
        let question = "What should a Debian package for a Tcl module called foo be named?";
        let passages = vec![passage(
            "The naming convention for a module foo is tcl-foo or tk-foo when the module is \
             version independent.",
            0.7,
        )];
        let evidence = select_evidence(question, &passages, 1, None);
        let checks = check_sentences(
            question,
            &answer_sentences("The answer is: The package should be named tcl-foo."),
            &evidence,
            None,
        );
        assert_eq!(checks[0].text, "The package should be named tcl-foo.");
        assert!(checks[0].supported && !checks[0].restates, "{checks:?}");
        // The same words without the compound only restate the question.
        let checks = check_sentences(
            question,
            &["The Debian package for the Tcl module foo should be named.".to_owned()],
            &evidence,
            None,
        );
        assert!(checks[0].restates && !checks[0].supported, "{checks:?}");
        assert!(respells_question(
            "What does the Tcl/Tk policy say?",
            "tcltk-policy"
        ));
        assert!(!respells_question(question, "tcl-foo"));
    }

    #[test]
    fn sentences_only_about_whom_the_question_asks_are_not_shown_as_answers() {
        let question = "What is Theodora Quillfeather's blood type?";
        let passages = vec![passage(
            "Theodora Quillfeather is a 67-year-old retired librarian admitted with chest \
             pain. Quillfeather was discharged home with her daughter.",
            0.6,
        )];
        let evidence = select_evidence(question, &passages, 2, None);
        let checks = check_sentences(
            question,
            &answer_sentences("Theodora Quillfeather's blood type is O positive."),
            &evidence,
            None,
        );
        assert!(!checks[0].supported && !checks[0].restates, "{checks:?}");
        assert_eq!(
            fallback_evidence(question, &evidence).ok(),
            None,
            "the evidence names the patient but says nothing of blood or types"
        );
        assert!(is_yes_no(
            "If sending one image fails, will the viewer retry it?"
        ));
        assert!(!is_yes_no(
            "If sending one image fails, what does the viewer do?"
        ));
    }

    fn evidence_of(sentences: &[&str]) -> Vec<Evidence> {
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

    #[test]
    fn a_quote_shown_instead_must_state_the_kind_of_value_asked_for() {
        let price = "How much did Prisma pay for the server it used?";
        let tested = "The source code has been tested extensively on the server Prisma used.";
        let share = "The server used by Prisma spent 1.5% of its time in the kernel.";
        assert_eq!(
            fallback_evidence(price, &evidence_of(&[tested, share])).ok(),
            None,
            "no sum of money: a percentage is no price"
        );
        assert_eq!(
            shown_instead(price, &[], &evidence_of(&[tested, share])),
            Err(Refusal::NoStatedValue(AnswerKind::Money(None)))
        );
        let paid = "Prisma paid USD 48,000 for the server it used.";
        assert_eq!(
            fallback_evidence(price, &evidence_of(&[tested, paid])).ok(),
            Some(1)
        );
        let date = "On what date is the annual holiday party held?";
        let holidays =
            "The company observes 11 paid holidays each year, including two floating holidays.";
        assert_eq!(
            fallback_evidence(date, &evidence_of(&[holidays])).ok(),
            None
        );
        let party = "The annual holiday party is held on December 12 in the main office.";
        assert_eq!(
            fallback_evidence(date, &evidence_of(&[holidays, party])).ok(),
            Some(1)
        );
        // A question that asks for no kind of value keeps its quote.
        assert_eq!(
            fallback_evidence(
                "Which holidays does the company observe?",
                &evidence_of(&[holidays])
            )
            .ok(),
            Some(0)
        );
    }

    #[test]
    fn an_answer_s_quote_must_state_it_together_with_what_the_question_asks() {
        let question = "Which company owns the data center where the Lantern platform is hosted?";
        let answer = vec![
            "The company that owns the data center is Brightwater Freight Holdings, Inc."
                .to_owned(),
        ];
        let apart = evidence_of(&[
            "Client operates a regional freight brokerage and outsources the hosting of its platform.",
            "Brightwater Freight Holdings, Inc.",
        ]);
        let checks = check_sentences(question, &answer, &apart, None);
        assert!(
            !checks[0].supported,
            "the name and the data center are never stated together: {checks:?}"
        );
        let together = evidence_of(&[
            "The data center that hosts the platform is owned by Brightwater Freight Holdings, Inc.",
        ]);
        let checks = check_sentences(question, &answer, &together, None);
        assert!(
            checks[0].supported && checks[0].evidence == vec![0],
            "{checks:?}"
        );

        let question = "What is the name of the daughter Mrs. Quillfeather lives with?";
        let evidence = evidence_of(&[
            "She is a former smoker and lives with her daughter, who will assist her at home.",
            "Lakemont General Hospital - Discharge Summary - QUILLFEATHER, Theodora",
        ]);
        let checks = check_sentences(
            question,
            &answer_sentences("Mrs. Quillfeather lives with Theodora Lakemont."),
            &evidence,
            None,
        );
        assert_eq!(checks.len(), 1, "a title ends no sentence: {checks:?}");
        let asked_back = check_sentences(
            question,
            &["Who does Mrs. Quillfeather live with, her daughter Theodora?".to_owned()],
            &evidence_of(&["Mrs. Quillfeather lives with her daughter Theodora."]),
            None,
        );
        assert!(
            !asked_back[0].supported,
            "a question is no answer: {asked_back:?}"
        );
        assert!(
            check_sentences(
                question,
                &["Mrs. Quillfeather lives with her daughter Theodora.".to_owned()],
                &evidence_of(&["Mrs. Quillfeather lives with her daughter Theodora."]),
                None,
            )[0]
            .supported
        );
        assert!(!checks[0].supported, "{checks:?}");
        assert_eq!(
            fallback_evidence(question, &evidence).ok(),
            None,
            "a question for a name is not answered by a sentence that names nobody"
        );
        assert!(asks_for_name(
            "Who is the chief information security officer?"
        ));
        assert!(asks_for_name("Which company owns the data center?"));
        assert!(asks_for_name(
            "Which release introduced apt, and who led the project?"
        ));
        assert!(!asks_for_name(
            "How long is the probation for someone who has just joined?"
        ));
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

    #[test]
    fn after_an_echo_the_best_quote_is_shown_only_when_it_speaks_of_what_is_asked() {
        let question = "What should a Debian package for a version-independent Tcl module called foo be named?";
        let evidence = evidence_of(&[
            "The naming convention for a module foo is tcl-foo or tk-foo when the module is version independent.",
            "For any version, the main Tcl and Tk packages are called tclX.Y and tkX.Y respectively.",
        ]);
        let checks = check_sentences(
            question,
            &answer_sentences("The answer is: The package should be named foo."),
            &evidence,
            None,
        );
        assert!(checks[0].restates, "{checks:?}");
        assert_eq!(shown_instead(question, &checks, &evidence), Ok(0));

        let question =
            "What sanctions does the Debian Tcl/Tk policy impose on packages that violate it?";
        let evidence = evidence_of(&[
            "This document describes the packaging of Tcl/Tk within Debian and the policy requirements for packages.",
        ]);
        let checks = check_sentences(
            question,
            &answer_sentences(
                "The Debian Tcl/Tk policy imposes sanctions on packages that violate the policy.",
            ),
            &evidence,
            None,
        );
        assert!(checks[0].restates, "{checks:?}");
        assert_eq!(
            fallback_evidence(question, &evidence).ok(),
            Some(0),
            "on the topic, so it would be shown after an invented answer"
        );
        assert_eq!(
            shown_instead(question, &checks, &evidence),
            Err(Refusal::OnlyRestated),
            "it speaks of packages and policy, not of sanctions or violations"
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
