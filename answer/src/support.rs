//! The support check: which sentences of the model's answer the evidence backs, and the
//! quotes each backed sentence cites.
//!
//! A sentence is backed when all of these hold:
//! - it has a content word and is not itself a question;
//! - every number it states is in the evidence as a whole term (number words count);
//! - every name it brings in is in the evidence or the question;
//! - it adds to the question something the evidence holds (any yes/no answer does);
//! - the evidence holds half its terms, or 30% with an embedding cosine of 0.7 or more;
//! - some quote on the question's subject states what it adds to the question (the new
//!   name as a name, else a new term or compound) and one of its numbers.
//!
//! A sentence made only of the question's own words restates it. The best such quote is
//! cited, a second one from another passage when nearly as good, and one more for each
//! number no cited quote states yet.

use std::collections::HashSet;

use crate::evidence::Evidence;
use crate::question::{asked_about, asked_stems, is_yes_no};
use crate::text::{
    capitalised, compounds, content_terms, is_number, names, number_key, numbers_of, stem, stems,
    term_coverage,
};

/// How one sentence of an answer stands against the evidence.
#[derive(Debug, Clone)]
pub struct SentenceCheck {
    /// The sentence as the model wrote it, without citation markers.
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
    let backing = Backing::new(question, evidence);
    sentences
        .iter()
        .enumerate()
        .map(|(i, sentence)| {
            let similarity = cosine.and_then(|c| c.get(i)).map_or(&[][..], Vec::as_slice);
            backing.check(sentence, similarity)
        })
        .collect()
}

/// The question and the evidence, read once for all the sentences of an answer.
struct Backing<'a> {
    question: &'a str,
    evidence: &'a [Evidence],
    /// All evidence sentences as one text.
    text: String,
    numbers: HashSet<String>,
    stems: HashSet<String>,
    compounds: HashSet<String>,
    /// Each evidence sentence on its own, by index.
    quotes: Vec<Quote>,
    question_stems: HashSet<String>,
    asked: HashSet<String>,
    /// What the question asks about (its lower-case words), as opposed to whom.
    about: HashSet<String>,
    yes_no: bool,
}

/// What one evidence sentence states.
struct Quote {
    numbers: HashSet<String>,
    stems: HashSet<String>,
    compounds: HashSet<String>,
    names: HashSet<String>,
}

/// One sentence of the model's answer, read once.
struct Claim<'a> {
    text: &'a str,
    terms: Vec<String>,
    /// Its numbers, without thousands separators.
    numbers: Vec<String>,
    /// Its content stems that the question lacks.
    added: Vec<String>,
    compounds: HashSet<String>,
    /// Its capitalised words after the first (names, places).
    names: Vec<String>,
}

/// A quote that may back a claim, with how well it does.
#[derive(Clone, Copy)]
struct Scored {
    score: f32,
    /// The share of the claim's terms it holds.
    shared: f32,
    quote: usize,
}

impl<'a> Backing<'a> {
    fn new(question: &'a str, evidence: &'a [Evidence]) -> Self {
        let text: String = evidence
            .iter()
            .map(|e| e.sentence.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        let quotes = evidence
            .iter()
            .map(|e| Quote {
                numbers: numbers_of(&e.sentence),
                stems: stems(&e.sentence),
                compounds: compounds(&e.sentence),
                names: capitalised(&e.sentence),
            })
            .collect();
        Self {
            question,
            evidence,
            numbers: numbers_of(&text),
            stems: stems(&text),
            compounds: compounds(&text),
            text,
            quotes,
            question_stems: stems(question),
            asked: asked_stems(question),
            about: asked_about(question),
            yes_no: is_yes_no(question),
        }
    }

    fn claim<'s>(&self, sentence: &'s str) -> Claim<'s> {
        let terms = content_terms(sentence);
        let numbers = terms
            .iter()
            .filter(|t| is_number(t))
            .map(|t| number_key(t))
            .collect();
        Claim {
            text: sentence,
            terms,
            numbers,
            added: added_stems(&self.asked, sentence),
            compounds: compounds(sentence),
            names: names(sentence),
        }
    }

    /// `similarity[j]`: the embedding cosine of the sentence with evidence sentence `j`.
    fn check(&self, sentence: &str, similarity: &[f32]) -> SentenceCheck {
        let claim = self.claim(sentence);
        let adds = self.adds(&claim);
        let grounded = self.grounded(&claim, adds, similarity);
        let cited = if grounded {
            self.cite(&claim, similarity)
        } else {
            Vec::new()
        };
        SentenceCheck {
            text: sentence.to_owned(),
            supported: grounded && !cited.is_empty(),
            evidence: cited,
            restates: self.restates(&claim, adds),
        }
    }

    /// Whether the evidence as a whole holds the claim; a quote must still be found to cite
    /// ([`Backing::cite`]).
    fn grounded(&self, claim: &Claim, adds: bool, similarity: &[f32]) -> bool {
        // A sentence that asks ("…, and for how long should she take it?") answers
        // nothing, however many of its words the evidence holds.
        let asks = claim.text.trim_end().ends_with('?');
        !claim.terms.is_empty()
            && !asks
            && self.numbers_found(claim)
            && self.names_found(claim)
            && adds
            && self.covered(claim, similarity)
    }

    fn numbers_found(&self, claim: &Claim) -> bool {
        claim.numbers.iter().all(|n| self.numbers.contains(n))
    }

    /// A name the sentence brings in ("Berlin") must come from the evidence too, unless
    /// the question named it.
    fn names_found(&self, claim: &Claim) -> bool {
        claim.names.iter().all(|n| {
            let s = stem(n);
            self.stems.contains(s) || self.question_stems.contains(s)
        })
    }

    /// What the sentence adds to the question must itself come from the evidence; any
    /// answer to a yes/no question adds its yes or no.
    fn adds(&self, claim: &Claim) -> bool {
        self.yes_no
            || adds_from_evidence(
                self.question,
                claim.text,
                &claim.added,
                &self.stems,
                &self.compounds,
            )
    }

    /// Half of the sentence's terms are in the evidence, or 30% when it means what an
    /// evidence sentence says.
    fn covered(&self, claim: &Claim, similarity: &[f32]) -> bool {
        let coverage = term_coverage(claim.text, &self.text);
        let best_similarity = (0..self.evidence.len())
            .map(|j| similarity_to(similarity, j))
            .fold(0.0, f32::max);
        coverage >= 0.5 || (coverage >= 0.3 && best_similarity >= 0.7)
    }

    /// An echo says nothing the question did not: none of its content words is new.
    /// A sentence that adds an invented figure or name is no echo, only unsupported;
    /// one without any content word ("The answer is: No.") is neither.
    fn restates(&self, claim: &Claim, adds: bool) -> bool {
        !self.yes_no
            && !adds
            && claim.added.is_empty()
            && stems(claim.text).iter().any(|s| self.asked.contains(s))
    }

    /// Whether quote `j` speaks of what the question asks about.
    fn on_subject(&self, j: usize) -> bool {
        self.about.is_empty() || self.quotes[j].stems.iter().any(|t| self.about.contains(t))
    }

    /// Whether quote `j` states one of the claim's numbers (any quote, when it has none).
    fn states_a_number(&self, claim: &Claim, j: usize) -> bool {
        claim.numbers.is_empty()
            || claim
                .numbers
                .iter()
                .any(|n| self.quotes[j].numbers.contains(n))
    }

    /// Whether quote `j` states what the claim adds to the question. A name the claim
    /// brings in is its answer ("Brightwater Freight Holdings"): the quote must write it as
    /// a name, not merely hold one of its words in lower case ("a regional freight
    /// brokerage"). Otherwise one of its new terms or compounds will do.
    fn holds_answer(&self, claim: &Claim, j: usize) -> bool {
        let quote = &self.quotes[j];
        let new_names: Vec<&String> = claim
            .names
            .iter()
            .filter(|n| !self.question_stems.contains(stem(n)))
            .collect();
        if new_names.is_empty() {
            claim.added.is_empty()
                || claim.added.iter().any(|t| quote.stems.contains(t))
                || claim.compounds.iter().any(|c| quote.compounds.contains(c))
        } else {
            new_names.iter().any(|n| quote.names.contains(*n))
        }
    }

    /// Quotes on the question's subject that state one of the claim's numbers, best backing
    /// first.
    fn scored_quotes(&self, claim: &Claim, similarity: &[f32]) -> Vec<Scored> {
        let mut scored: Vec<Scored> = (0..self.evidence.len())
            .filter(|&j| self.on_subject(j) && self.states_a_number(claim, j))
            .map(|j| {
                let shared = term_coverage(claim.text, &self.evidence[j].sentence);
                let stated = claim
                    .numbers
                    .iter()
                    .filter(|n| self.quotes[j].numbers.contains(*n))
                    .count() as f32
                    / claim.numbers.len().max(1) as f32;
                Scored {
                    score: shared + 0.5 * stated + 0.5 * similarity_to(similarity, j),
                    shared,
                    quote: j,
                }
            })
            .collect();
        scored.sort_by(|a, b| b.score.total_cmp(&a.score));
        scored
    }

    /// The quotes a grounded claim cites, best first; none when no quote on the subject
    /// states its answer together with its numbers, and the claim is then unsupported.
    fn cite(&self, claim: &Claim, similarity: &[f32]) -> Vec<usize> {
        // A quote that backs an answer must state what the answer adds to the question
        // together with what the question asks about (one of its lower-case words), in
        // one sentence: "Brightwater Freight Holdings, Inc." holds the name an answer to
        // "which company owns the data center" gives, but says nothing of a data center,
        // and a patient's letterhead names people without saying which of them is her
        // daughter. Every word of such an answer is somewhere in the evidence, so word
        // coverage alone accepts it.
        let scored = self.scored_quotes(claim, similarity);
        let backing: Vec<Scored> = scored
            .iter()
            .copied()
            .filter(|s| self.holds_answer(claim, s.quote))
            .collect();
        let Some(first) = backing.first() else {
            return Vec::new();
        };
        let mut cited = vec![first.quote];
        if let Some(second) = self.second_quote(first, &backing[1..]) {
            cited.push(second);
        }
        self.cite_each_number(claim, &scored, &mut cited);
        cited
    }

    /// A second quote from another passage when it backs the claim nearly as well as the
    /// first (the same fact stated twice).
    fn second_quote(&self, first: &Scored, rest: &[Scored]) -> Option<usize> {
        let passage = self.evidence[first.quote].passage;
        rest.iter()
            .find(|s| {
                s.score >= 0.8 * first.score
                    && self.evidence[s.quote].passage != passage
                    && s.shared >= 0.5
            })
            .map(|s| s.quote)
    }

    /// A sentence that joins figures from several quotes cites each of them: every number
    /// it states is on a cited page. Such a quote need not hold the sentence's names (the
    /// first one does), only speak of the subject.
    fn cite_each_number(&self, claim: &Claim, scored: &[Scored], cited: &mut Vec<usize>) {
        for s in scored {
            let k = s.quote;
            let uncovered = |n: &String| !cited.iter().any(|&c| self.quotes[c].numbers.contains(n));
            if !cited.contains(&k)
                && claim
                    .numbers
                    .iter()
                    .any(|n| uncovered(n) && self.quotes[k].numbers.contains(n))
            {
                cited.push(k);
            }
        }
    }
}

/// The cosine with evidence sentence `j`, 0 when it was not computed.
fn similarity_to(similarity: &[f32], j: usize) -> f32 {
    similarity.get(j).copied().unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::*;
    use crate::question::asks_for_name;
    use crate::{answer_sentences, build_evidence_prompt, fallback_evidence, select_evidence};

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
}
