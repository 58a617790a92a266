//! `dossier ask`: retrieve, decide whether the documents can answer, generate, cite.

use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::Result;
use clap::Args;
use dossier::pipeline::Response;
use dossier::report::{self, millis, one_line, AnswerReport, FinishReason, Timings};
use dossier::retrieve::{Passage, Retriever};
use dossier_answer as answer;
use tokio::runtime::Runtime;

use super::args::{AnswerArgs, RankArgs};
use crate::GlobalArgs;

#[derive(Args, Debug)]
pub struct AskArgs {
    /// The question, in your own words.
    question: String,
    /// Passages retrieved; the best ones that fit the model's context go into the prompt.
    #[arg(short, long, default_value_t = 4)]
    k: usize,
    #[command(flatten)]
    answer: AnswerArgs,
    /// Print JSON ({answer, refused, sentences: [{text, supported, citations: [n]}],
    /// citations: [{n, file, page, quote, score}], timings}).
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    rank: RankArgs,
}

pub fn run(runtime: &Runtime, global: &GlobalArgs, args: AskArgs) -> Result<u8> {
    let started = Instant::now();
    super::watch_interrupts();
    let settings = global.settings();
    let store = settings.open_store(runtime, false)?;
    let embedder = settings.load_embedder()?;
    let mut retriever = Retriever::open(runtime, store, embedder, &args.rank.ranking())?;
    let load_retrieval = started.elapsed();

    let asker = args.answer.asker(args.k);
    let mut load_llm = Duration::ZERO;
    let stream = !args.json;
    let mut stdout = std::io::stdout();
    let asked = asker.ask(
        runtime,
        &mut retriever,
        &args.question,
        || {
            let t = Instant::now();
            let model = args
                .answer
                .model_choice()
                .load(runtime, &global.llm_settings()?)?;
            load_llm = t.elapsed();
            Ok(Box::new(model))
        },
        |piece| {
            if stream {
                let _ = write!(stdout, "{piece}");
                let _ = stdout.flush();
            }
            !super::interrupted()
        },
    )?;
    let retrieved = &asked.retrieved;
    let passages = &retrieved.passages;
    let Some(response) = asked.response else {
        let reason = retrieved
            .refusal
            .as_ref()
            .expect("refused before generation");
        if args.json {
            let timings = Timings {
                load_ms: Some(millis(load_retrieval)),
                total_ms: Some(millis(started.elapsed())),
                ..Timings::of(retrieved)
            };
            let report = AnswerReport::refused(&args.question, passages, reason, timings);
            super::print_json(&report::json(&report))?;
        } else {
            print_refusal(passages, reason);
        }
        return Ok(crate::exit::OK);
    };
    if stream && !response.shown.is_empty() {
        println!();
    }
    if args.json {
        let timings = Timings {
            load_retrieval_ms: Some(millis(load_retrieval)),
            load_llm_ms: Some(millis(load_llm)),
            total_ms: Some(millis(started.elapsed())),
            ..Timings::of(retrieved)
        };
        let report = AnswerReport::generated(&args.question, passages, &response, timings);
        super::print_json(&report::json(&report))?;
    } else if response.refused {
        print_refused_after_generation(&response);
    } else {
        print_checked(&response, global.verbose);
    }
    Ok(
        if !response.refused && response.finish() == FinishReason::Interrupted {
            crate::exit::INTERRUPTED
        } else {
            crate::exit::OK
        },
    )
}

/// After the streamed answer (checked sentences only): a revision when the whole answer's
/// check changed what was shown, a note on what was left out (with `-v`, the sentences
/// themselves, marked), and the sources.
pub fn print_checked(response: &Response, verbose: u8) {
    if response.revised {
        println!(
            "\n(Revised after checking the whole answer:)\n{}",
            response.cited_answer()
        );
    }
    if response.dropped() > 0 {
        let hint = if verbose > 0 { ":" } else { "; -v shows them" };
        if response.supported {
            println!(
                "\n({} sentence(s) of the model's answer left out: the sources do not back them{hint})",
                response.dropped()
            );
        } else {
            println!("\n(The model's own answer is not backed by the sources, so the answer above is their text{hint})");
        }
        if verbose > 0 {
            for s in response.left_out() {
                println!("  ✗ {}", s.text);
            }
        }
    }
    println!("\nSources:");
    for c in &response.citations {
        println!("[{}] {}, p. {} — \"{}\"", c.n, c.file, c.page, c.quote);
    }
}

/// The model declined after all (or nothing it said could be shown): the refusal, after
/// whatever checked sentences were already shown.
pub fn print_refused_after_generation(response: &Response) {
    if response.revised {
        println!("\n(On checking the whole answer:) {}", answer::REFUSAL);
    } else {
        println!("{}", answer::REFUSAL);
    }
}

/// The refusal on a terminal, with the passages that came closest.
pub fn print_refusal(passages: &[Passage], reason: &answer::Refusal) {
    println!("{} ({reason})", answer::REFUSAL);
    if !passages.is_empty() {
        println!("\nClosest passages (not enough to answer):");
        for p in passages.iter().take(3) {
            println!(
                "- {}, p. {} (score {:.2}): {}",
                p.file_name,
                p.page,
                p.score,
                one_line(&p.text, 160)
            );
        }
    }
}
