//! The kind of value a question asks for (a sum of money, an hourly figure, a date, a span
//! of time, a number), and whether a sentence states a value of that kind.
//!
//! - The question's words decide its kind: money cues ("cost", "fee", "$") unless they
//!   speak of a person ("in charge of") or of time off ("paid leave"); "per hour"; and,
//!   when neither, "what date", "how long", "how many" and their kin.
//! - A sentence states a sum when a currency mark stands next to a number (in the
//!   currency asked for, if one was), or when it says the thing is free; a date by a year
//!   or a month next to a number; a span of time by a unit of time after a number (or
//!   "a"/"an"), or "until", "indefinitely"; a number by any number or number word.

use crate::text::words;

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

/// The currency a question names ("in euros", "$").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Currency {
    /// "dollars", "USD", "$".
    Dollar,
    /// "euros", "EUR", "€".
    Euro,
    /// "sterling", "GBP", "£".
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
pub(crate) const MONEY_CUES: &[&str] = &[
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
pub(crate) fn states(kind: AnswerKind, sentence: &str) -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
