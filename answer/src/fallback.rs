//! The fallback quote: what is shown when no sentence of the model's answer is backed.
//!
//! - The quote is the best-scored evidence sentence that is not a question, has five words
//!   or more, says more than the question, speaks of what the question asks about (one of
//!   its lower-case words), names someone new when a name is asked for, and states the kind
//!   of value asked for.
//! - After an answer that only restated the question, the quote must also speak of half of
//!   what the question asks about; else the answer is a refusal.
//! - With no such quote the answer is a refusal: no stated value when sentences on the
//!   subject exist, else not addressed.

use crate::evidence::Evidence;
use crate::kind::{asked_kinds, states};
use crate::question::{asked_about, asks_for_name, is_yes_no};
use crate::refusal::Refusal;
use crate::support::{adds_to_question, SentenceCheck};
use crate::text::{capitalised, stems};

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::*;
    use crate::{answer_sentences, check_sentences, select_evidence, AnswerKind};

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
}
