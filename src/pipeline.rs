//! The answer path: question → passages → refusal or generation → checked answer.
//!
//! Shared by `ask`, `chat`, `eval --answers` and `serve`, so that eval measures what users get.
//! Nothing here writes to the terminal.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Result;
use dossier_answer::{self as answer, RefusalPolicy};
use dossier_ingest::Embedder;
use dossier_llm::{self as llm, ChatMessage, ChatModel, GenerationParams};
use tokio::runtime::Runtime;

use crate::report::{one_line, AnswerSentence, Citation, FinishReason, SentenceSource};
use crate::retrieve::{Passage, Retriever};
use crate::Settings;

/// A question's passages and whether to refuse it, before any generation.
pub struct Retrieved {
    /// The `k` best passages, best first.
    pub passages: Vec<Passage>,
    pub refusal: Option<answer::Refusal>,
    pub embed_time: Duration,
    pub search_time: Duration,
}

/// The answer path for one question: retrieve → refuse? → generate → check. One `Asker`
/// serves `ask`, `chat`, `eval --answers` and `serve`, so that each runs the same sequence
/// and eval measures what users get.
#[derive(Debug, Clone)]
pub struct Asker {
    /// Passages the model answers from (the best ones).
    pub k: usize,
    /// When a question is refused before generation.
    pub policy: RefusalPolicy,
    /// How the answer is generated.
    pub options: AnswerOptions,
}

impl Default for Asker {
    /// `dossier ask`'s defaults: the model answers from the best 4 passages.
    fn default() -> Self {
        Self {
            k: 4,
            policy: RefusalPolicy::default(),
            options: AnswerOptions::default(),
        }
    }
}

/// A question's passages, and the answer when the model was asked for one.
pub struct Asked {
    pub retrieved: Retrieved,
    /// `None`: refused before generation (`retrieved.refusal` says why).
    pub response: Option<Response>,
}

impl Asker {
    /// Embeds `question`, finds its `k` best passages and decides whether the documents can
    /// answer it. A few more passages than the model sees are searched for the refusal's
    /// key-term check.
    pub fn retrieve(
        &self,
        runtime: &Runtime,
        retriever: &mut Retriever,
        question: &str,
    ) -> Result<Retrieved> {
        let mut retrieved = self.retrieve_top(runtime, retriever, question, self.k.max(10))?;
        retrieved.passages.truncate(self.k);
        Ok(retrieved)
    }

    /// [`Asker::retrieve`] keeping all `n` passages the refusal was decided on.
    pub fn retrieve_top(
        &self,
        runtime: &Runtime,
        retriever: &mut Retriever,
        question: &str,
        n: usize,
    ) -> Result<Retrieved> {
        let t = Instant::now();
        let vector = retriever.embed_question(question)?;
        let embed_time = t.elapsed();
        let t = Instant::now();
        let passages = retriever.search(runtime, question, &vector, n)?;
        let search_time = t.elapsed();
        let refusal = self.refusal(question, &passages, || {
            if retriever.one_per_page {
                let chunks = retriever.search_all_chunks(runtime, question, &vector, 10)?;
                Ok(Some(chunks))
            } else {
                Ok(None)
            }
        })?;
        Ok(Retrieved {
            passages,
            refusal,
            embed_time,
            search_time,
        })
    }

    /// Whether to refuse `question`, given its `passages`. A key term missing from them is
    /// looked for once more in `other_chunks` (the ten best chunks before one-per-page
    /// collapsing: the chunk that holds it may have lost to a better one of its page; `None`
    /// when the passages are those chunks already), which is called only then.
    pub fn refusal(
        &self,
        question: &str,
        passages: &[Passage],
        other_chunks: impl FnOnce() -> Result<Option<Vec<Passage>>>,
    ) -> Result<Option<answer::Refusal>> {
        let refusal = self.policy.refusal(question, passages, &[]);
        if !matches!(refusal, Some(answer::Refusal::MissingTerm(_))) {
            return Ok(refusal);
        }
        Ok(match other_chunks()? {
            Some(wider) => self.policy.refusal(question, passages, &wider),
            None => refusal,
        })
    }

    /// Generates and checks the answer from `passages` (see [`generate_answer`] for what
    /// `on_text` receives).
    pub fn generate(
        &self,
        model: &mut dyn ChatModel,
        question: &str,
        passages: &[Passage],
        embedder: Option<&mut Embedder>,
        on_text: impl FnMut(&str) -> bool,
    ) -> Result<Response> {
        generate_answer(model, question, passages, &self.options, embedder, on_text)
    }

    /// The whole path: retrieval, then, unless it refused, the model `load` gives (called
    /// only then) generates with the retriever's embedder checking its sentences.
    pub fn ask<M: ChatModel, G: std::ops::DerefMut<Target = M>>(
        &self,
        runtime: &Runtime,
        retriever: &mut Retriever,
        question: &str,
        load: impl FnOnce() -> Result<G>,
        on_text: impl FnMut(&str) -> bool,
    ) -> Result<Asked> {
        let retrieved = self.retrieve(runtime, retriever, question)?;
        if retrieved.refusal.is_some() {
            return Ok(Asked {
                retrieved,
                response: None,
            });
        }
        let mut model = load()?;
        let response = self.generate(
            &mut *model,
            question,
            &retrieved.passages,
            Some(&mut retriever.embedder),
            on_text,
        )?;
        Ok(Asked {
            retrieved,
            response: Some(response),
        })
    }
}

/// Which model writes the answers: the local GGUF (`model`, else the default in the models
/// folder) or, with `llm_url`, an OpenAI-compatible server the user runs.
#[derive(Debug, Clone, Default)]
pub struct ModelChoice {
    /// A GGUF file (llama, mistral, qwen2, qwen3 or gemma3 architecture).
    pub model: Option<PathBuf>,
    /// The server's base URL, e.g. `http://gpu-box:8080`.
    pub llm_url: Option<String>,
    /// The bearer token sent to `llm_url`.
    pub api_key: Option<String>,
}

impl ModelChoice {
    /// The local GGUF, or the user's server with `llm_url`.
    pub fn load(&self, runtime: &Runtime, settings: &Settings) -> Result<llm::Generator> {
        llm::Generator::load(
            self.llm_url.as_deref(),
            self.api_key.clone(),
            self.model.as_deref(),
            &settings.models,
            &settings.llm,
            runtime.handle().clone(),
        )
    }
}

/// How to generate an answer.
#[derive(Clone, Debug)]
pub struct AnswerOptions {
    pub max_tokens: usize,
    pub temperature: f64,
    /// Evidence sentences shown to the model.
    pub evidence_sentences: usize,
    /// Weight of the question–sentence embedding cosine in evidence scoring (0: words only).
    pub evidence_cosine: f32,
}

/// The default weight of embedding cosine in evidence scoring.
pub const EVIDENCE_COSINE: f32 = 1.0;

impl Default for AnswerOptions {
    /// `dossier ask`'s defaults: 160 tokens, greedy, six evidence sentences.
    fn default() -> Self {
        Self {
            max_tokens: 160,
            temperature: 0.0,
            evidence_sentences: 6,
            evidence_cosine: EVIDENCE_COSINE,
        }
    }
}

/// A generated answer: refused when the model itself said the sources do not answer.
pub struct Response {
    /// The name of the model that wrote it.
    pub model: String,
    /// What is shown: the supported sentences of the model's answer, else the best
    /// evidence sentence.
    pub answer: String,
    pub model_text: String,
    pub refused: bool,
    /// False when no sentence of the model's answer was backed by the evidence and the
    /// evidence sentence was given instead.
    pub supported: bool,
    /// The model's sentences (supported or not), then the evidence fallback if any.
    pub sentences: Vec<AnswerSentence>,
    /// The quotes cited by the shown sentences, numbered from 1.
    pub citations: Vec<Citation>,
    pub stats: llm::GenerationStats,
    /// Why it was refused, when it was.
    pub refusal: Option<answer::Refusal>,
    /// Everything `generate_answer` passed to its `on_text`: checked sentences only.
    pub shown: String,
    /// What was shown while the model wrote is not the final answer (the whole answer's check
    /// judged a shown sentence otherwise, or the model went on to decline): the caller says
    /// so and shows the final one. Nothing shown was unchecked either way.
    pub revised: bool,
}

impl Response {
    /// Why the generation ended.
    pub fn finish(&self) -> FinishReason {
        self.stats.finish_reason
    }

    /// Model sentences left out of the answer because the evidence does not back them.
    pub fn dropped(&self) -> usize {
        self.left_out().count()
    }

    /// The model's sentences that the evidence does not back, in order.
    pub fn left_out(&self) -> impl Iterator<Item = &AnswerSentence> {
        self.sentences
            .iter()
            .filter(|s| s.source == SentenceSource::Model && !s.supported)
    }

    /// The shown answer with each sentence followed by its citation markers.
    pub fn cited_answer(&self) -> String {
        self.sentences
            .iter()
            .filter(|s| s.supported)
            .map(|s| {
                let marks: String = s.citations.iter().map(|n| format!("[{n}]")).collect();
                if marks.is_empty() {
                    s.text.clone()
                } else {
                    format!("{} {marks}", s.text)
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Prompts the model with evidence sentences selected from `passages`, checks each sentence
/// of the answer against the evidence and attaches the quotes that back it. `embedder`, when
/// given, adds embedding similarity to the check.
///
/// `on_text` receives the answer as it may be shown, never the model's draft: a sentence is
/// passed on once it is complete and the support check has passed it (with its citation
/// marks), the rest after the check of the whole answer; when no sentence is supported, the
/// evidence quote shown instead is the first thing it receives. It is also called with `""`
/// for every piece the model writes, so that returning `false` stops the generation.
fn generate_answer(
    model: &mut dyn ChatModel,
    question: &str,
    passages: &[Passage],
    options: &AnswerOptions,
    embedder: Option<&mut Embedder>,
    mut on_text: impl FnMut(&str) -> bool,
) -> Result<Response> {
    let mut embedder = embedder;
    let similarity = embedder
        .as_deref_mut()
        .filter(|_| options.evidence_cosine > 0.0)
        .and_then(|e| question_similarities(e, question, passages))
        .map(|s| {
            s.into_iter()
                .map(|c| c * options.evidence_cosine)
                .collect::<Vec<_>>()
        });
    let evidence = answer::select_evidence(
        question,
        passages,
        options.evidence_sentences,
        similarity.as_deref(),
    );
    for e in &evidence {
        tracing::debug!(
            passage = e.passage,
            score = e.score,
            "evidence: {}",
            one_line(&e.sentence, 200)
        );
    }
    let user_prompt = answer::build_evidence_prompt(question, passages, &evidence);
    let params = GenerationParams {
        max_new_tokens: options.max_tokens,
        temperature: (options.temperature > 0.0).then_some(options.temperature),
        ..GenerationParams::default()
    };
    let messages = [
        ChatMessage::system(answer::SYSTEM_PROMPT),
        ChatMessage::user(user_prompt),
    ];
    let mut gate = SentenceGate::new(question, &evidence);
    let (text, stats) = model.generate(&messages, &params, &mut |piece| {
        if let Some(checked) = gate.push(piece, embedder.as_deref_mut()) {
            if !on_text(&checked) {
                return false;
            }
        }
        on_text("")
    })?;
    let mut response = check_answer(question, passages, &evidence, text, stats, embedder);
    response.model = model.name().to_owned();
    // What the check of the whole answer shows: the streamed sentences and the rest, or
    // something else (then the caller shows the final answer after saying so).
    let fin = if response.refused {
        String::new()
    } else {
        response.cited_answer()
    };
    match fin.strip_prefix(gate.shown.as_str()) {
        Some(rest) if !response.refused => {
            if !rest.is_empty() {
                on_text(rest);
            }
            response.shown = fin;
        }
        _ => {
            response.revised = !gate.shown.is_empty();
            response.shown = gate.shown;
        }
    }
    Ok(response)
}

/// The check of the whole answer, once the model has finished: its supported sentences with
/// their quotes, the evidence quote instead when none is supported, or a refusal.
fn check_answer(
    question: &str,
    passages: &[Passage],
    evidence: &[answer::Evidence],
    text: String,
    stats: llm::GenerationStats,
    embedder: Option<&mut Embedder>,
) -> Response {
    let text = text.trim().to_owned();
    let refused = |text: String, stats: llm::GenerationStats, reason: answer::Refusal| Response {
        model: String::new(),
        answer: answer::REFUSAL.to_owned(),
        model_text: text,
        refused: true,
        supported: false,
        sentences: Vec::new(),
        citations: Vec::new(),
        stats,
        refusal: Some(reason),
        shown: String::new(),
        revised: false,
    };
    if text.is_empty() || evidence.is_empty() || answer::is_model_refusal(&text) {
        return refused(text, stats, answer::Refusal::ModelDeclined);
    }
    let said = answer::answer_sentences(&text);
    let cosine = match embedder {
        Some(embedder) if !said.is_empty() => similarities(embedder, &said, evidence),
        _ => None,
    };
    let checks = answer::check_sentences(question, &said, evidence, cosine.as_deref());
    for c in &checks {
        // The refusal rules act on these flags; the log is how a false refusal is traced.
        tracing::debug!(
            supported = c.supported,
            restates = c.restates,
            "answer sentence: {}",
            one_line(&c.text, 200)
        );
    }

    // Citations are numbered in the order the shown sentences first cite them.
    let mut cited: Vec<usize> = Vec::new();
    let mut sentences: Vec<AnswerSentence> = checks
        .iter()
        .map(|c| AnswerSentence {
            text: c.text.clone(),
            supported: c.supported,
            citations: c
                .evidence
                .iter()
                .map(|&j| citation_number(&mut cited, j))
                .collect(),
            source: SentenceSource::Model,
        })
        .collect();
    let supported = checks.iter().any(|c| c.supported);
    let answer_text = if supported {
        checks
            .iter()
            .filter(|c| c.supported)
            .map(|c| c.text.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    } else {
        // Nothing the model said is backed (an invented figure, say): the user gets the
        // source's own words rather than a guess, or a refusal when no evidence sentence
        // answers (`answer::shown_instead` says when).
        let best = match answer::shown_instead(question, &checks, evidence) {
            Ok(best) => best,
            Err(reason) => return refused(text, stats, reason),
        };
        let n = citation_number(&mut cited, best);
        sentences.push(AnswerSentence {
            text: evidence[best].sentence.clone(),
            supported: true,
            citations: vec![n],
            source: SentenceSource::Evidence,
        });
        evidence[best].sentence.clone()
    };
    let citations = cited
        .iter()
        .enumerate()
        .map(|(i, &j)| {
            let e = &evidence[j];
            let p = &passages[e.passage];
            Citation {
                n: i + 1,
                source: e.passage + 1,
                file: p.file_name.clone(),
                path: p.path.clone(),
                paths: p.paths.clone(),
                page: p.page,
                quote: e.sentence.clone(),
                score: p.score,
            }
        })
        .collect();
    Response {
        model: String::new(),
        answer: answer_text,
        model_text: text,
        refused: false,
        supported,
        sentences,
        citations,
        stats,
        refusal: None,
        shown: String::new(),
        revised: false,
    }
}

/// The `n` of evidence sentence `j` among the citations: citations are numbered in the
/// order the shown sentences first cite them.
fn citation_number(cited: &mut Vec<usize>, j: usize) -> usize {
    match cited.iter().position(|&c| c == j) {
        Some(at) => at + 1,
        None => {
            cited.push(j);
            cited.len()
        }
    }
}

/// Holds the model's text back until a sentence is complete and the support check has
/// passed it, so that nothing unchecked reaches the reader. The last sentence, and every
/// sentence once the text stops lining up with what was judged (a split that moved) or turns
/// into the model declining, wait for the check of the whole answer.
struct SentenceGate<'a> {
    question: &'a str,
    evidence: &'a [answer::Evidence],
    text: String,
    /// Complete sentences judged so far, shown or not, in order.
    judged: Vec<String>,
    /// Evidence indices in the order the shown sentences first cite them (as in `Response`).
    cited: Vec<usize>,
    /// Everything passed on so far.
    shown: String,
    holding: bool,
}

impl<'a> SentenceGate<'a> {
    fn new(question: &'a str, evidence: &'a [answer::Evidence]) -> Self {
        Self {
            question,
            evidence,
            text: String::new(),
            judged: Vec::new(),
            cited: Vec::new(),
            shown: String::new(),
            holding: false,
        }
    }

    /// Takes the model's next piece; returns the checked text that may be shown now.
    fn push(&mut self, piece: &str, mut embedder: Option<&mut Embedder>) -> Option<String> {
        self.text.push_str(piece);
        if self.holding || self.evidence.is_empty() {
            return None;
        }
        if answer::is_model_refusal(&self.text) {
            self.holding = true;
            return None;
        }
        let said = answer::answer_sentences(&self.text);
        // The last sentence may still grow.
        let complete = said.len().saturating_sub(1);
        if complete < self.judged.len() || said[..self.judged.len()] != self.judged[..] {
            self.holding = true;
            return None;
        }
        let mut out = String::new();
        for sentence in &said[self.judged.len()..complete] {
            let one = std::slice::from_ref(sentence);
            // The same check, on the same vectors, as the whole answer's (batches of one).
            let cosine = embedder
                .as_deref_mut()
                .and_then(|e| similarities(e, one, self.evidence));
            let check =
                answer::check_sentences(self.question, one, self.evidence, cosine.as_deref())
                    .into_iter()
                    .next();
            self.judged.push(sentence.clone());
            let Some(check) = check.filter(|c| c.supported) else {
                continue;
            };
            let marks: String = check
                .evidence
                .iter()
                .map(|&j| format!("[{}]", citation_number(&mut self.cited, j)))
                .collect();
            if !self.shown.is_empty() || !out.is_empty() {
                out.push(' ');
            }
            out.push_str(&format!("{} {marks}", check.text));
        }
        self.shown.push_str(&out);
        (!out.is_empty()).then_some(out)
    }
}

/// Cosine similarity of the question with each candidate evidence sentence, or `None` when
/// the embedder fails (evidence is then chosen by words alone).
fn question_similarities(
    embedder: &mut Embedder,
    question: &str,
    passages: &[Passage],
) -> Option<Vec<f32>> {
    let candidates = answer::candidate_sentences(passages);
    let texts: Vec<&str> = std::iter::once(question)
        .chain(candidates.iter().map(|(_, _, s)| *s))
        .collect();
    match embedder.embed(&texts, 1) {
        Ok(vectors) => {
            let (q, rest) = vectors.split_first()?;
            Some(
                rest.iter()
                    .map(|v| v.iter().zip(q).map(|(x, y)| x * y).sum())
                    .collect(),
            )
        }
        Err(e) => {
            tracing::debug!("embedding evidence sentences: {e}");
            None
        }
    }
}

/// Cosine similarities of each answer sentence with each evidence sentence, or `None` when
/// the embedder fails (the check then goes by words alone).
fn similarities(
    embedder: &mut Embedder,
    said: &[String],
    evidence: &[answer::Evidence],
) -> Option<Vec<Vec<f32>>> {
    let texts: Vec<&str> = said
        .iter()
        .map(String::as_str)
        .chain(evidence.iter().map(|e| e.sentence.as_str()))
        .collect();
    let vectors = match embedder.embed(&texts, 1) {
        Ok(v) => v,
        Err(e) => {
            tracing::debug!("embedding answer sentences: {e}");
            return None;
        }
    };
    let (answers, quotes) = vectors.split_at(said.len());
    Some(
        answers
            .iter()
            .map(|a| {
                quotes
                    .iter()
                    .map(|q| a.iter().zip(q).map(|(x, y)| x * y).sum())
                    .collect()
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A model that writes a fixed text in small pieces, as a real one streams tokens, and
    /// counts the characters it has written so far.
    struct Scripted(&'static str, std::rc::Rc<std::cell::Cell<usize>>);

    impl ChatModel for Scripted {
        fn name(&self) -> &str {
            "scripted"
        }

        fn generate(
            &mut self,
            _messages: &[ChatMessage],
            _params: &GenerationParams,
            on_text: &mut dyn FnMut(&str) -> bool,
        ) -> Result<(String, llm::GenerationStats)> {
            let mut written = String::new();
            let mut chars = self.0.chars().peekable();
            while chars.peek().is_some() {
                let piece: String = chars.by_ref().take(3).collect();
                written.push_str(&piece);
                self.1.set(written.len());
                if !on_text(&piece) {
                    break;
                }
            }
            let stats = llm::GenerationStats {
                prompt_tokens: 0,
                reused_prompt_tokens: 0,
                generated_tokens: written.len() / 3,
                prompt_seconds: 0.0,
                generation_seconds: 0.0,
                finish_reason: FinishReason::Stop,
            };
            Ok((written, stats))
        }
    }

    const NOTICE: &str = "12.1 Either Party may terminate this Agreement for convenience by giving the other Party at least 120 days' written notice.";
    const QUESTION: &str =
        "How much notice must be given to terminate the agreement for convenience?";

    fn passages() -> Vec<Passage> {
        [
            NOTICE,
            "Fees are payable within 30 days of the invoice date by bank transfer.",
        ]
        .iter()
        .enumerate()
        .map(|(i, text)| Passage {
            file_name: "agreement.pdf".into(),
            path: "/docs/agreement.pdf".into(),
            paths: vec!["/docs/agreement.pdf".into()],
            doc_id: "d".into(),
            page: 4 + i as u32,
            chunk_index: i as u32,
            char_start: 0,
            char_end: text.len() as u32,
            text: text.to_string(),
            score: 0.8 - 0.1 * i as f32,
            ocr: false,
        })
        .collect()
    }

    fn options() -> AnswerOptions {
        AnswerOptions {
            max_tokens: 64,
            temperature: 0.0,
            evidence_sentences: 6,
            evidence_cosine: 0.0,
        }
    }

    /// Runs the answer path on a scripted model; returns the response and every non-empty
    /// piece `on_text` was given, with how much of its text the model had written by then.
    fn answer_with(model_text: &'static str) -> (Response, Vec<String>) {
        let (response, shown) = answer_timed(model_text);
        (
            response,
            shown.into_iter().map(|(piece, _)| piece).collect(),
        )
    }

    fn answer_timed(model_text: &'static str) -> (Response, Vec<(String, usize)>) {
        let written = std::rc::Rc::new(std::cell::Cell::new(0));
        let mut shown = Vec::new();
        let response = generate_answer(
            &mut Scripted(model_text, written.clone()),
            QUESTION,
            &passages(),
            &options(),
            None,
            |piece| {
                if !piece.is_empty() {
                    shown.push((piece.to_owned(), written.get()));
                }
                true
            },
        )
        .unwrap();
        (response, shown)
    }

    fn asker() -> Asker {
        Asker {
            k: 4,
            policy: RefusalPolicy::default(),
            options: options(),
        }
    }

    #[test]
    fn the_asker_refuses_when_retrieval_finds_nothing() {
        let refusal = asker()
            .refusal(QUESTION, &[], || {
                panic!("no second look for a weak retrieval")
            })
            .unwrap();
        assert_eq!(refusal, Some(answer::Refusal::WeakRetrieval));
    }

    #[test]
    fn a_missing_key_term_is_looked_for_in_the_pages_other_chunks() {
        let question = "What does clause 14.3 say about notice for convenience?";
        let missing = asker().refusal(question, &passages(), || Ok(None)).unwrap();
        assert_eq!(missing, Some(answer::Refusal::MissingTerm("14.3".into())));
        let mut other = passages().remove(0);
        other.chunk_index = 7;
        other.text = "14.3 Notice for convenience is given in writing.".into();
        let found = asker()
            .refusal(question, &passages(), || Ok(Some(vec![other])))
            .unwrap();
        assert_eq!(found, None);
    }

    #[test]
    fn the_asker_shows_only_supported_sentences_and_the_model_sees_only_evidence() {
        let mut model = dossier_llm::Scripted::new(
            "Either Party may terminate this Agreement for convenience by giving at least 120 days' written notice. The customer must also pay a penalty of 900 dollars.",
        );
        let mut shown = String::new();
        let response = asker()
            .generate(&mut model, QUESTION, &passages(), None, |piece| {
                shown.push_str(piece);
                true
            })
            .unwrap();
        assert!(!response.refused && response.supported);
        assert_eq!(response.model, "scripted");
        assert_eq!(response.dropped(), 1);
        assert_eq!(shown, response.cited_answer());
        assert!(
            shown.contains("120 days") && !shown.contains("900"),
            "{shown}"
        );
        assert_eq!(response.citations.len(), 1);
        assert_eq!(response.citations[0].quote, NOTICE);
        assert_eq!(response.citations[0].page, 4);
        let prompt = &model.prompts[0][1].content;
        assert!(prompt.contains(NOTICE), "{prompt}");
    }

    #[test]
    fn a_model_that_declines_gives_the_refusal_and_no_citations() {
        let mut model = dossier_llm::Scripted::new("The documents do not contain the answer.");
        let response = asker()
            .generate(&mut model, QUESTION, &passages(), None, |_| true)
            .unwrap();
        assert!(response.refused);
        assert_eq!(response.answer, answer::REFUSAL);
        assert!(response.citations.is_empty() && response.shown.is_empty());
        assert_eq!(response.refusal, Some(answer::Refusal::ModelDeclined));
    }

    #[test]
    fn an_unsupported_first_sentence_is_never_shown() {
        let (response, shown) = answer_with(
            "The customer must also pay a penalty of 900 dollars. Either Party may terminate this Agreement for convenience by giving at least 120 days' written notice.",
        );
        assert!(!response.refused && response.supported && !response.revised);
        assert_eq!(response.dropped(), 1, "{:?}", response.sentences);
        let all: String = shown.concat();
        assert!(
            !all.contains("900"),
            "an unchecked sentence reached the reader: {all:?}"
        );
        assert!(!all.contains("penalty"), "{all:?}");
        assert_eq!(all, response.cited_answer());
        assert_eq!(response.shown, all);
        assert!(all.contains("120 days") && all.ends_with("[1]"), "{all:?}");
    }

    #[test]
    fn a_checked_sentence_is_shown_before_the_model_finishes() {
        const TEXT: &str = "Either Party may terminate this Agreement for convenience by giving at least 120 days' written notice. The customer must also pay a penalty of 900 dollars.";
        let (response, shown) = answer_timed(TEXT);
        assert!(response.supported && !response.revised);
        // The first sentence went out soon after the second began, not at the end.
        let (first, written_by_then) = &shown[0];
        assert!(first.contains("120 days"), "{shown:?}");
        assert!(
            *written_by_then < TEXT.find("penalty").unwrap(),
            "{shown:?}"
        );
        assert!(!shown.iter().any(|(p, _)| p.contains("900")), "{shown:?}");
    }

    #[test]
    fn when_nothing_is_supported_the_quote_is_the_answer_from_its_first_byte() {
        let (response, shown) =
            answer_with("The notice period is 900 days. A penalty of 900 dollars applies.");
        assert!(
            !response.refused && !response.supported,
            "{:?}",
            response.sentences
        );
        assert!(!shown.is_empty());
        assert!(shown[0].starts_with("12.1 Either Party"), "{shown:?}");
        assert!(!shown.concat().contains("900"), "{shown:?}");
    }

    #[test]
    fn a_model_that_declines_shows_nothing_but_the_refusal() {
        let (response, shown) = answer_with("The documents do not contain the answer.");
        assert!(response.refused);
        assert!(shown.is_empty(), "{shown:?}");
        assert!(!response.revised);
    }

    #[test]
    fn declining_after_a_shown_sentence_is_a_revision() {
        let (response, shown) = answer_with(
            "Either Party may terminate this Agreement for convenience by giving at least 120 days' written notice. Anything else is not mentioned.",
        );
        assert!(response.refused);
        assert!(
            response.revised,
            "the shown sentence is not the final answer"
        );
        assert!(shown.concat().contains("120 days"), "{shown:?}");
    }
}
