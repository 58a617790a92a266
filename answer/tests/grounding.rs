//! Every grounding rule as a table: (question, passages, model text) → what the user gets.
//!
//! Each test holds the cases of one rule, with at least one case that comes out otherwise
//! when the rule is taken away. The steps are those of the binary's answer path, in its
//! order: the refusal policy before generation, then the evidence, the model's text, the
//! support check and, when no sentence is backed, the quote shown instead. No model and
//! no store: the model's text is given, and embedding cosines are given or absent.

use dossier_answer::{
    answer_sentences, check_sentences, is_model_refusal, select_evidence, shown_instead,
    AnswerKind, Currency, Passage, Refusal, RefusalPolicy,
};

/// What the user is shown.
#[derive(Debug, PartialEq)]
enum Outcome {
    /// The backed sentences of the model's answer, and the quotes they cite, in order.
    Answer(String, Vec<String>),
    /// No sentence of the model's answer is backed: this evidence sentence instead.
    Quote(String),
    /// "The documents do not contain the answer", and why.
    Refused(Refusal),
}

use Outcome::*;

struct Case {
    question: &'static str,
    /// Texts and retrieval scores, best first.
    passages: &'static [(&'static str, f32)],
    model: &'static str,
    /// Embedding cosine of every answer sentence with every evidence sentence; `None` is the
    /// check by words alone.
    cosine: Option<f32>,
    expect: Outcome,
}

fn case(
    question: &'static str,
    passages: &'static [(&'static str, f32)],
    model: &'static str,
    expect: Outcome,
) -> Case {
    Case {
        question,
        passages,
        model,
        cosine: None,
        expect,
    }
}

fn answer(text: &str, quotes: &[&str]) -> Outcome {
    Answer(
        text.to_owned(),
        quotes.iter().map(|q| (*q).to_owned()).collect(),
    )
}

fn quote(text: &str) -> Outcome {
    Quote(text.to_owned())
}

fn missing(term: &str) -> Outcome {
    Refused(Refusal::MissingTerm(term.to_owned()))
}

fn passages(texts: &[(&str, f32)]) -> Vec<Passage> {
    texts
        .iter()
        .enumerate()
        .map(|(i, (text, score))| Passage {
            file_name: "contract.pdf".into(),
            path: "/docs/contract.pdf".into(),
            paths: vec!["/docs/contract.pdf".into()],
            doc_id: "d".into(),
            page: i as u32 + 1,
            chunk_index: i as u32,
            char_start: 0,
            char_end: text.chars().count() as u32,
            text: (*text).into(),
            score: *score,
            ocr: false,
        })
        .collect()
}

/// The evidence sentences the model is shown, as `ask` picks them by default.
const EVIDENCE_SENTENCES: usize = 6;

fn outcome(case: &Case) -> Outcome {
    let passages = passages(case.passages);
    if let Some(refusal) = RefusalPolicy::default().refusal(case.question, &passages, &[]) {
        return Refused(refusal);
    }
    let evidence = select_evidence(case.question, &passages, EVIDENCE_SENTENCES, None);
    let text = case.model.trim();
    if text.is_empty() || evidence.is_empty() || is_model_refusal(text) {
        return Refused(Refusal::ModelDeclined);
    }
    let said = answer_sentences(text);
    let cosine = case
        .cosine
        .map(|c| vec![vec![c; evidence.len()]; said.len()]);
    let checks = check_sentences(case.question, &said, &evidence, cosine.as_deref());
    let backed: Vec<_> = checks.iter().filter(|c| c.supported).collect();
    if backed.is_empty() {
        return match shown_instead(case.question, &checks, &evidence) {
            Ok(j) => Quote(evidence[j].sentence.clone()),
            Err(refusal) => Refused(refusal),
        };
    }
    let text = backed
        .iter()
        .map(|c| c.text.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    let mut quotes: Vec<String> = Vec::new();
    for j in backed.iter().flat_map(|c| &c.evidence) {
        if !quotes.contains(&evidence[*j].sentence) {
            quotes.push(evidence[*j].sentence.clone());
        }
    }
    Answer(text, quotes)
}

fn assert_cases(cases: &[Case]) {
    let wrong: Vec<String> = cases
        .iter()
        .filter_map(|c| {
            let got = outcome(c);
            (got != c.expect).then(|| {
                format!(
                    "{:?} answered {:?}\n  expected {:?}\n  got      {got:?}",
                    c.question, c.model, c.expect
                )
            })
        })
        .collect();
    assert!(wrong.is_empty(), "\n{}", wrong.join("\n"));
}

/// A yes/no question whose answer repeats its words and names no sum, although "owe" asks
/// for one: neither the kind-of-value refusal nor the echo rule may take it.
fn owe_royalties() -> Case {
    const QUOTE: &str = "The licence is free: no royalties are owed to Steinberg.";
    case(
        "Do we owe Steinberg royalties?",
        &[(QUOTE, 0.6)],
        "We do not owe Steinberg royalties.",
        answer("We do not owe Steinberg royalties.", &[QUOTE]),
    )
}

const NOTICE: &[(&str, f32)] = &[(
    "Fees are due monthly. Either party may terminate with 120 days notice. Notices go by post.",
    0.6,
)];
const NOTICE_QUOTE: &str = "Either party may terminate with 120 days notice.";

#[test]
fn refusal_weak_retrieval() {
    const WEAK: &[(&str, f32)] = &[("Either party may terminate with 120 days notice.", 0.2)];
    assert_cases(&[
        case(
            "How much notice to terminate?",
            WEAK,
            "120 days notice.",
            Refused(Refusal::WeakRetrieval),
        ),
        case(
            "How much notice to terminate?",
            &[],
            "120 days notice.",
            Refused(Refusal::WeakRetrieval),
        ),
        case(
            "How much notice to terminate?",
            NOTICE,
            "120 days notice.",
            answer("120 days notice.", &[NOTICE_QUOTE]),
        ),
    ]);
}

#[test]
fn refusal_a_number_of_the_question_no_passage_holds() {
    const ELECTION: &[(&str, f32)] = &[(
        "Jonathan Carter was elected in April 2020. The DPL serves a year.",
        0.7,
    )];
    const FEE: &[(&str, f32)] = &[("The client pays a fixed fee of USD 48,500 a month.", 0.7)];
    assert_cases(&[
        case(
            "Who was elected in April 2022?",
            ELECTION,
            "Jonathan Carter was elected in April 2022.",
            missing("2022"),
        ),
        case(
            "Who was elected in April 2020?",
            ELECTION,
            "Jonathan Carter was elected in April 2020.",
            answer(
                "Jonathan Carter was elected in April 2020.",
                &["Jonathan Carter was elected in April 2020."],
            ),
        ),
        // Thousands separators do not make another number.
        case(
            "Is the monthly fee USD 48500?",
            FEE,
            "Yes, the client pays USD 48,500 a month.",
            answer(
                "Yes, the client pays USD 48,500 a month.",
                &["The client pays a fixed fee of USD 48,500 a month."],
            ),
        ),
    ]);
}

#[test]
fn refusal_an_acronym_of_the_question_no_passage_holds() {
    const ELECTION: &[(&str, f32)] = &[(
        "Jonathan Carter was elected in April 2020. The DPL serves a year.",
        0.7,
    )];
    assert_cases(&[
        case(
            "Was the DPL cleared by the FDA?",
            ELECTION,
            "Yes, the FDA cleared the DPL.",
            missing("FDA"),
        ),
        case(
            "How long does the DPL serve?",
            ELECTION,
            "The DPL serves a year.",
            answer("The DPL serves a year.", &["The DPL serves a year."]),
        ),
    ]);
}

#[test]
fn refusal_no_sentence_on_the_subject_states_the_kind_of_value_asked_for() {
    const LICENCE: &[(&str, f32)] = &[(
        "In no event shall Steinberg be liable for indirect damages. The Licensee may \
         terminate this Agreement with 14 days notice.",
        0.7,
    )];
    const CAPPED: &[(&str, f32)] = &[(
        "In no event shall Steinberg be liable for indirect damages. Steinberg's liability \
         is limited to 500 euros.",
        0.7,
    )];
    const FEES: &[(&str, f32)] = &[(
        "Client shall pay a fixed monthly service fee of USD 48,500. Transition assistance \
         is provided on request.",
        0.7,
    )];
    const HOLIDAYS: &[(&str, f32)] = &[(
        "The company observes 11 paid holidays each year. The annual holiday party is \
         organised by the social committee.",
        0.7,
    )];
    assert_cases(&[
        case(
            "What is the maximum amount in euros that Steinberg can be held liable for?",
            LICENCE,
            "Steinberg can be held liable for 500 euros.",
            Refused(Refusal::NoStatedValue(AnswerKind::Money(Some(
                Currency::Euro,
            )))),
        ),
        case(
            "What is the maximum amount in euros that Steinberg can be held liable for?",
            CAPPED,
            "Steinberg's liability is limited to 500 euros.",
            answer(
                "Steinberg's liability is limited to 500 euros.",
                &["Steinberg's liability is limited to 500 euros."],
            ),
        ),
        // The model may well say what the documents do say; it is no answer to the figure.
        case(
            "What is the maximum amount in euros that Steinberg can be held liable for?",
            LICENCE,
            "In no event shall Steinberg be liable for indirect damages.",
            Refused(Refusal::NoStatedValue(AnswerKind::Money(Some(
                Currency::Euro,
            )))),
        ),
        // A sum on another subject does not answer.
        case(
            "How much does the transition assistance cost?",
            FEES,
            "Transition assistance is provided on request.",
            Refused(Refusal::NoStatedValue(AnswerKind::Money(None))),
        ),
        case(
            "On what date is the annual holiday party held?",
            HOLIDAYS,
            "The annual holiday party is held on December 12.",
            Refused(Refusal::NoStatedValue(AnswerKind::Date)),
        ),
        case(
            "How long is the notice to terminate?",
            LICENCE,
            "The Licensee may terminate with 14 days notice.",
            answer(
                "The Licensee may terminate with 14 days notice.",
                &["The Licensee may terminate this Agreement with 14 days notice."],
            ),
        ),
        // A yes/no question is answered by yes or no, not by the sum its words ask about.
        owe_royalties(),
    ]);
}

#[test]
fn refusal_the_model_declines() {
    assert_cases(&[
        case(
            "How much notice to terminate?",
            NOTICE,
            "The documents do not say.",
            Refused(Refusal::ModelDeclined),
        ),
        case(
            "How much notice to terminate?",
            NOTICE,
            "  ",
            Refused(Refusal::ModelDeclined),
        ),
    ]);
}

#[test]
fn support_numbers_are_matched_whole() {
    assert_cases(&[
        case(
            "How much notice to terminate?",
            NOTICE,
            "12 days notice.",
            quote(NOTICE_QUOTE),
        ),
        case(
            "How much notice to terminate?",
            NOTICE,
            "1.25 days notice.",
            quote(NOTICE_QUOTE),
        ),
    ]);
}

#[test]
fn support_number_words_back_digits() {
    assert_cases(&[case(
        "How long did merging take?",
        &[("Merging the files took two days of work.", 0.6)],
        "It took 2 days.",
        answer(
            "It took 2 days.",
            &["Merging the files took two days of work."],
        ),
    )]);
}

#[test]
fn support_names_come_from_the_evidence_or_the_question() {
    assert_cases(&[
        case(
            "How much notice to terminate?",
            NOTICE,
            "Either party may terminate in Berlin with 120 days notice.",
            quote(NOTICE_QUOTE),
        ),
        // A name the evidence holds does not vouch for another that it does not.
        case(
            "How much notice to terminate?",
            &[(
                "Corvane and the Client may each terminate with 120 days notice.",
                0.6,
            )],
            "The provider Corvane may terminate in Berlin with 120 days notice.",
            quote("Corvane and the Client may each terminate with 120 days notice."),
        ),
        case(
            "How much notice must Corvane give to terminate?",
            &[("Either party may terminate with 120 days notice.", 0.6)],
            "Corvane must give 120 days notice to terminate.",
            answer(
                "Corvane must give 120 days notice to terminate.",
                &[NOTICE_QUOTE],
            ),
        ),
    ]);
}

#[test]
fn support_each_sentence_is_checked_on_its_own_and_invented_markers_are_dropped() {
    assert_cases(&[case(
        "How much notice to terminate?",
        NOTICE,
        "Notice is 120 days [2]. The fee is 99 dollars.",
        answer("Notice is 120 days.", &[NOTICE_QUOTE]),
    )]);
}

#[test]
fn support_half_the_terms_or_a_third_with_a_close_meaning() {
    const ANSWER: &str = "120 days notice, delivered by registered courier to headquarters.";
    let mut close = case(
        "How much notice to terminate?",
        NOTICE,
        ANSWER,
        answer(ANSWER, &[NOTICE_QUOTE]),
    );
    close.cosine = Some(0.8);
    let mut far = case(
        "How much notice to terminate?",
        NOTICE,
        ANSWER,
        quote(NOTICE_QUOTE),
    );
    far.cosine = Some(0.5);
    assert_cases(&[
        case(
            "How much notice to terminate?",
            NOTICE,
            ANSWER,
            quote(NOTICE_QUOTE),
        ),
        close,
        far,
        // Without a content word there is nothing to cover ("No." to a yes/no question):
        // the check's own "no content word" condition is this rule's limit case, and no
        // case can tell the two apart.
        case(
            "Can either party terminate early?",
            NOTICE,
            "The answer is: No.",
            quote(NOTICE_QUOTE),
        ),
    ]);
}

#[test]
fn support_a_question_is_no_answer() {
    const DAUGHTER: &[(&str, f32)] =
        &[("Mrs. Quillfeather lives with her daughter Theodora.", 0.6)];
    const QUESTION: &str = "What is the name of the daughter Mrs. Quillfeather lives with?";
    assert_cases(&[
        case(
            QUESTION,
            DAUGHTER,
            "Who does Mrs. Quillfeather live with, her daughter Theodora?",
            quote("Mrs. Quillfeather lives with her daughter Theodora."),
        ),
        case(
            QUESTION,
            DAUGHTER,
            "Mrs. Quillfeather lives with her daughter Theodora.",
            answer(
                "Mrs. Quillfeather lives with her daughter Theodora.",
                &["Mrs. Quillfeather lives with her daughter Theodora."],
            ),
        ),
    ]);
}

#[test]
fn support_an_echo_of_the_question_is_no_answer() {
    const POLICY: &[(&str, f32)] = &[(
        "Debian Tcl/Tk Policy\nThis policy describes how packages of Tcl modules are named and \
         built by the tcltk-policy maintainers.",
        0.7,
    )];
    assert_cases(&[
        case(
            "What sanctions does the Debian Tcl/Tk policy impose on packages that violate it?",
            POLICY,
            "The Debian Tcl/Tk policy imposes sanctions on packages that violate the tcltk-policy.",
            Refused(Refusal::OnlyRestated),
        ),
        // The answer to a yes/no question may repeat it.
        owe_royalties(),
        // A name spelled as a compound of the question's words ("tcl-foo") is an answer.
        case(
            "What should a Debian package for a Tcl module called foo be named?",
            &[(
                "The naming convention for a module foo is tcl-foo or tk-foo when the module is \
                 version independent.",
                0.7,
            )],
            "The answer is: The package should be named tcl-foo.",
            answer(
                "The package should be named tcl-foo.",
                &[
                    "The naming convention for a module foo is tcl-foo or tk-foo when the module \
                   is version independent.",
                ],
            ),
        ),
    ]);
}

#[test]
fn citation_a_quote_on_the_subject_states_the_answer_together_with_the_question_s_subject() {
    const QUESTION: &str =
        "Which company owns the data center where the Lantern platform is hosted?";
    const ANSWER: &str =
        "The company that owns the data center is Brightwater Freight Holdings, Inc.";
    assert_cases(&[
        case(
            QUESTION,
            &[(
                "Client operates a regional freight brokerage and outsources the hosting of its \
                 platform.\nBrightwater Freight Holdings, Inc.",
                0.7,
            )],
            ANSWER,
            Refused(Refusal::NotAddressed),
        ),
        case(
            QUESTION,
            &[(
                "The data center that hosts the platform is owned by Brightwater Freight \
                 Holdings, Inc.",
                0.7,
            )],
            ANSWER,
            answer(
                ANSWER,
                &[
                    "The data center that hosts the platform is owned by Brightwater Freight \
                   Holdings, Inc.",
                ],
            ),
        ),
    ]);
}

#[test]
fn citation_a_quote_states_one_of_the_sentence_s_numbers() {
    assert_cases(&[case(
        "How much notice must the customer give Corvane to terminate?",
        &[(
            "The customer may terminate for convenience by written notice. Corvane invoices \
             are payable within 30 days.",
            0.7,
        )],
        "The customer must give 30 days written notice to terminate.",
        Refused(Refusal::NoStatedValue(AnswerKind::Duration)),
    )]);
}

#[test]
fn citation_a_second_passage_stating_the_same_fact_is_cited_too() {
    assert_cases(&[case(
        "How much notice to terminate?",
        &[
            ("Either party may terminate with 120 days notice.", 0.7),
            ("Termination requires 120 days notice by either party.", 0.6),
        ],
        "Either party may terminate with 120 days notice.",
        answer(
            "Either party may terminate with 120 days notice.",
            &[
                "Either party may terminate with 120 days notice.",
                "Termination requires 120 days notice by either party.",
            ],
        ),
    )]);
}

#[test]
fn citation_each_number_s_quote_is_cited() {
    assert_cases(&[case(
        "What must the customer do to terminate?",
        &[
            (
                "A customer who terminates early pays a fee of 500 euros.",
                0.7,
            ),
            (
                "The customer may terminate on 120 days' written notice.",
                0.6,
            ),
        ],
        "The customer may terminate this agreement for convenience on 120 days' written notice \
         to the provider and pays 500 euros.",
        answer(
            "The customer may terminate this agreement for convenience on 120 days' written \
             notice to the provider and pays 500 euros.",
            &[
                "The customer may terminate on 120 days' written notice.",
                "A customer who terminates early pays a fee of 500 euros.",
            ],
        ),
    )]);
}

#[test]
fn fallback_the_quote_speaks_of_what_is_asked_not_only_of_whom() {
    assert_cases(&[case(
        "What is Theodora Quillfeather's blood type?",
        &[(
            "Theodora Quillfeather is a 67-year-old retired librarian admitted with chest pain. \
             Quillfeather was discharged home with her daughter.",
            0.6,
        )],
        "Theodora Quillfeather's blood type is O positive.",
        Refused(Refusal::NotAddressed),
    )]);
}

#[test]
fn fallback_the_quote_states_the_kind_of_value_asked_for() {
    assert_cases(&[
        case(
            "How much did Prisma pay for the server it used?",
            &[(
                "Prisma's budget was USD 48,000. The source code has been tested extensively \
                 on the server Prisma used.",
                0.7,
            )],
            "Prisma paid 3.1 million dollars for the server.",
            Refused(Refusal::NoStatedValue(AnswerKind::Money(None))),
        ),
        case(
            "How much did Prisma pay for the server it used?",
            &[(
                "Prisma paid USD 48,000 for the server it used. The source code has been \
                 tested extensively on the server Prisma used.",
                0.7,
            )],
            "Prisma paid 3.1 million dollars for the server.",
            quote("Prisma paid USD 48,000 for the server it used."),
        ),
    ]);
}

#[test]
fn fallback_a_question_for_a_name_is_answered_by_a_quote_that_names_someone() {
    assert_cases(&[case(
        "What is the name of the daughter Mrs. Quillfeather lives with?",
        &[(
            "She is a former smoker and lives with her daughter, who will assist her at home.",
            0.6,
        )],
        "Mrs. Quillfeather lives with Theodora Lakemont.",
        Refused(Refusal::NotAddressed),
    )]);
}

#[test]
fn fallback_after_an_echo_the_quote_speaks_of_most_of_what_is_asked() {
    assert_cases(&[
        case(
            "What should a Debian package for a version-independent Tcl module called foo be \
             named?",
            &[(
                "The naming convention for a module foo is tcl-foo or tk-foo when the module \
                 is version independent. For any version, the main Tcl and Tk packages are \
                 called tclX.Y and tkX.Y respectively.",
                0.7,
            )],
            "The answer is: The package should be named foo.",
            quote(
                "The naming convention for a module foo is tcl-foo or tk-foo when the module \
                 is version independent.",
            ),
        ),
        case(
            "What sanctions does the Debian Tcl/Tk policy impose on packages that violate it?",
            &[(
                "This document describes the packaging of Tcl/Tk within Debian and the policy \
                 requirements for packages.",
                0.7,
            )],
            "The Debian Tcl/Tk policy imposes sanctions on packages that violate the policy.",
            Refused(Refusal::OnlyRestated),
        ),
    ]);
}

#[test]
fn fallback_the_quote_is_no_question_no_fragment_and_says_more_than_the_question() {
    const QUESTION: &str = "What must the customer do to terminate the agreement?";
    const INVENTED: &str = "The customer must pay 500 euros to terminate.";
    const ANSWER: &str = "The customer terminates by giving written notice to the provider.";
    assert_cases(&[
        // The document's own question, however close to the user's.
        case(
            QUESTION,
            &[(
                "Can the customer terminate the agreement early, and how?\nThe customer \
                 terminates by giving written notice to the provider.",
                0.7,
            )],
            INVENTED,
            quote(ANSWER),
        ),
        // A heading.
        case(
            QUESTION,
            &[
                ("Customer termination: agreement notice.", 0.9),
                (ANSWER, 0.3),
            ],
            INVENTED,
            quote(ANSWER),
        ),
        // A sentence made of the question's words.
        case(
            QUESTION,
            &[(
                "The customer can terminate the agreement.\nThe customer terminates by giving \
                 written notice to the provider.",
                0.7,
            )],
            INVENTED,
            quote(ANSWER),
        ),
    ]);
}
