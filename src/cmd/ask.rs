//! `dossier ask`: retrieve, decide whether the documents can answer, generate, cite.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use clap::Args;
use serde::Serialize;
use tokio::runtime::Runtime;

use crate::answer::{self, RefusalPolicy};
use crate::llm::{self, ChatMessage, GenerationParams, Llm};
use crate::retrieve::{Passage, RankArgs, Retriever};
use crate::GlobalArgs;

#[derive(Args, Debug)]
pub struct AskArgs {
    /// The question, in your own words.
    question: String,
    /// Passages retrieved; the best ones that fit the model's context go into the prompt.
    #[arg(short, long, default_value_t = 4)]
    k: usize,
    /// A GGUF model to answer with (llama, mistral or qwen2 architecture).
    #[arg(long, env = "DOSSIER_MODEL")]
    model: Option<PathBuf>,
    /// Cap on the answer's length, in tokens.
    #[arg(long, default_value_t = 160)]
    max_tokens: usize,
    /// Sampling temperature; 0 is greedy (reproducible).
    #[arg(long, default_value_t = 0.0)]
    temperature: f64,
    /// Evidence sentences, picked from the passages, that the model answers from.
    #[arg(long, default_value_t = 6)]
    evidence: usize,
    /// Refuse when the best passage's similarity is below this (0..1).
    #[arg(long, default_value_t = RefusalPolicy::default().min_score)]
    min_score: f32,
    /// Print JSON ({answer, refused, citations: [{file, page, quote, score}], timings}).
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    rank: RankArgs,
}

#[derive(Serialize)]
pub struct Citation {
    /// The number the source had in the prompt.
    pub n: usize,
    pub file: String,
    pub path: String,
    pub page: u32,
    pub quote: String,
    pub score: f32,
}

pub fn run(runtime: &Runtime, global: &GlobalArgs, args: AskArgs) -> Result<u8> {
    let started = Instant::now();
    super::watch_interrupts();
    let store = super::open_store(runtime, global, false)?;
    let embedder = super::load_embedder(global)?;
    let mut retriever = Retriever::open(runtime, store, embedder)?;
    retriever.options = args.rank.options();
    let load_retrieval = started.elapsed();

    let t = Instant::now();
    let vector = retriever.embed_question(&args.question)?;
    let embed_time = t.elapsed();
    let t = Instant::now();
    let passages = retriever.search(runtime, &args.question, &vector, args.k)?;
    let search_time = t.elapsed();

    let policy = RefusalPolicy {
        min_score: args.min_score,
    };
    if policy.should_refuse(&passages) {
        return refuse(
            &args,
            &passages,
            serde_json::json!({
                "load_ms": super::millis(load_retrieval),
                "embed_ms": super::millis(embed_time),
                "search_ms": super::millis(search_time),
                "total_ms": super::millis(started.elapsed()),
            }),
        );
    }

    let t = Instant::now();
    let model_path = llm::model_path(args.model.as_deref(), &global.models);
    let mut model = Llm::load(&model_path)?;
    let load_llm = t.elapsed();

    let options = AnswerOptions {
        max_tokens: args.max_tokens,
        temperature: args.temperature,
        evidence_sentences: args.evidence,
    };
    let stream = !args.json;
    let mut stdout = std::io::stdout();
    let response = generate_answer(&mut model, &args.question, &passages, &options, |piece| {
        if stream {
            let _ = write!(stdout, "{piece}");
            let _ = stdout.flush();
        }
        !super::interrupted()
    })?;
    if stream {
        println!();
    }
    let stats = &response.stats;

    if response.refused {
        if stream {
            println!("({})", answer::REFUSAL);
        }
        return finish_refused_after_generation(&args, &passages, response.model_text, stats);
    }

    let timings = serde_json::json!({
        "load_retrieval_ms": super::millis(load_retrieval),
        "embed_ms": super::millis(embed_time),
        "search_ms": super::millis(search_time),
        "load_llm_ms": super::millis(load_llm),
        "prompt_ms": (stats.prompt_seconds * 1e3).round(),
        "generate_ms": (stats.generation_seconds * 1e3).round(),
        "total_ms": super::millis(started.elapsed()),
    });
    if args.json {
        super::print_json(&serde_json::json!({
            "question": args.question,
            "answer": response.answer,
            "refused": false,
            "supported": response.supported,
            "model_answer": response.model_text,
            "citations": response.citations,
            "model": model.name,
            "usage": stats,
            "timings": timings,
        }))?;
    } else {
        if !response.supported {
            println!(
                "\n(Not backed by the sources, so here is what they say:)\n{}",
                response.answer
            );
        }
        println!("\nSources:");
        for c in &response.citations {
            println!("[{}] {}, p. {} — \"{}\"", c.n, c.file, c.page, c.quote);
        }
    }
    Ok(if stats.finish_reason == "interrupted" {
        crate::exit::INTERRUPTED
    } else {
        crate::exit::OK
    })
}

/// How to generate an answer.
pub struct AnswerOptions {
    pub max_tokens: usize,
    pub temperature: f64,
    /// Evidence sentences shown to the model.
    pub evidence_sentences: usize,
}

/// A generated answer: refused when the model itself said the sources do not answer.
pub struct Response {
    pub answer: String,
    pub model_text: String,
    pub refused: bool,
    /// False when the model's answer was not backed by the evidence and the evidence
    /// sentence was given instead.
    pub supported: bool,
    pub citations: Vec<Citation>,
    pub stats: llm::GenerationStats,
}

/// Prompts the model with evidence sentences selected from `passages`, streams its text to
/// `on_text`, checks the answer against the evidence and attaches citations. Shared by `ask` and `eval --answers`, so that eval measures what users get.
pub fn generate_answer(
    model: &mut Llm,
    question: &str,
    passages: &[Passage],
    options: &AnswerOptions,
    on_text: impl FnMut(&str) -> bool,
) -> Result<Response> {
    let evidence = answer::select_evidence(question, passages, options.evidence_sentences);
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
    let (text, stats) = model.chat(&messages, &params, on_text)?;
    let text = text.trim().to_owned();
    if text.is_empty() || answer::is_model_refusal(&text) {
        return Ok(Response {
            answer: answer::REFUSAL.to_owned(),
            model_text: text,
            refused: true,
            supported: false,
            citations: Vec::new(),
            stats,
        });
    }
    // An answer the evidence does not back (an invented figure, say) is replaced by the
    // evidence itself: the user gets the source's words rather than a guess.
    let supported = answer::is_supported(&text, &evidence);
    let answer_text = if supported {
        text.clone()
    } else {
        evidence
            .iter()
            .max_by(|a, b| a.score.total_cmp(&b.score))
            .map(|e| e.sentence.clone())
            .unwrap_or_else(|| text.clone())
    };
    let citations = cite(question, &answer_text, passages, &evidence);
    Ok(Response {
        answer: answer_text,
        model_text: text,
        refused: false,
        supported,
        citations,
        stats,
    })
}

/// Citations come from the evidence the model was shown, never from markers it writes: the
/// evidence sentences that share the most words with the answer (at most one per passage,
/// at most three), quoted verbatim; the best evidence sentence when none does.
fn cite(
    question: &str,
    answer_text: &str,
    passages: &[Passage],
    evidence: &[answer::Evidence],
) -> Vec<Citation> {
    let mut ranked: Vec<(f32, &answer::Evidence)> = evidence
        .iter()
        .map(|e| {
            let overlap = answer::term_coverage(answer_text, &e.sentence);
            (
                2.0 * overlap + answer::term_coverage(question, &e.sentence) + 0.1 * e.score,
                e,
            )
        })
        .collect();
    ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
    // Further citations must state a number the answer states, when it states any: a
    // sentence about another notice period is not support for this one.
    let numbers: Vec<String> = answer::content_terms(answer_text)
        .into_iter()
        .filter(|t| t.chars().any(|c| c.is_ascii_digit()))
        .collect();
    let mut chosen: Vec<&answer::Evidence> = Vec::new();
    for (score, e) in ranked {
        let first = chosen.is_empty();
        if chosen.len() == 3 || (!first && score < 1.0) {
            break;
        }
        let states_a_number = numbers.is_empty()
            || answer::content_terms(&e.sentence)
                .iter()
                .any(|t| numbers.contains(t));
        if !first && !states_a_number {
            continue;
        }
        if !chosen.iter().any(|c| c.passage == e.passage) {
            chosen.push(e);
        }
    }
    chosen.sort_by_key(|e| e.passage);
    chosen
        .into_iter()
        .map(|e| {
            let p = &passages[e.passage];
            Citation {
                n: e.passage + 1,
                file: p.file_name.clone(),
                path: p.path.clone(),
                page: p.page,
                quote: e.sentence.clone(),
                score: p.score,
            }
        })
        .collect()
}

fn closest(passages: &[Passage]) -> Vec<serde_json::Value> {
    passages
        .iter()
        .take(3)
        .map(|p| {
            serde_json::json!({
                "file": p.file_name, "path": p.path, "page": p.page,
                "score": p.score, "text": super::one_line(&p.text, 300),
            })
        })
        .collect()
}

fn refuse(args: &AskArgs, passages: &[Passage], timings: serde_json::Value) -> Result<u8> {
    if args.json {
        super::print_json(&serde_json::json!({
            "question": args.question,
            "answer": answer::REFUSAL,
            "refused": true,
            "citations": [],
            "closest": closest(passages),
            "timings": timings,
        }))?;
    } else {
        println!("{}", answer::REFUSAL);
        if !passages.is_empty() {
            println!("\nClosest passages (not enough to answer):");
            for p in passages.iter().take(3) {
                println!(
                    "- {}, p. {} (score {:.2}): {}",
                    p.file_name,
                    p.page,
                    p.score,
                    super::one_line(&p.text, 160)
                );
            }
        }
    }
    Ok(crate::exit::OK)
}

fn finish_refused_after_generation(
    args: &AskArgs,
    passages: &[Passage],
    model_text: String,
    stats: &llm::GenerationStats,
) -> Result<u8> {
    if args.json {
        super::print_json(&serde_json::json!({
            "question": args.question,
            "answer": answer::REFUSAL,
            "model_answer": model_text,
            "refused": true,
            "citations": [],
            "closest": closest(passages),
            "usage": stats,
        }))?;
    }
    Ok(crate::exit::OK)
}
