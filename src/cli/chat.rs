//! `dossier chat`: a conversation over the documents. Questions come from stdin, one a line
//! (a terminal or a pipe); each is answered like `ask` (refusal, evidence, checked
//! sentences, quotes). A follow-up that points back ("what size was it?") is searched as a
//! standalone query carrying the previous question's terms. Ctrl-C stops the answer being
//! generated and the conversation goes on; `exit`, `quit` or end of input ends it.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::{Context, Result};
use clap::Args;
use dossier_answer as answer;
use tokio::runtime::Runtime;

use dossier::report::{self, AnswerReport, ChatAnswer, FinishReason, Timings};
use dossier::retrieve::Retriever;

use super::args::{AnswerArgs, RankArgs};
use super::ask::{print_checked, print_refused_after_generation};
use crate::GlobalArgs;

#[derive(Args, Debug)]
pub struct ChatArgs {
    /// Passages retrieved per question.
    #[arg(short, long, default_value_t = 4)]
    k: usize,
    #[command(flatten)]
    answer: AnswerArgs,
    /// One JSON object a line per question ({question, query, answer, refused, sentences,
    /// citations}) instead of streamed text.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    rank: RankArgs,
}

pub fn run(runtime: &Runtime, global: &GlobalArgs, args: ChatArgs) -> Result<u8> {
    super::watch_interrupts();
    let settings = global.settings();
    let store = settings.open_store(runtime, false)?;
    let embedder = settings.load_embedder()?;
    let mut retriever = Retriever::open(runtime, store, embedder, &args.rank.ranking())?;
    let mut model = args
        .answer
        .model_choice()
        .load(runtime, &global.llm_settings()?)?;
    let asker = args.answer.asker(args.k);

    let stdin = std::io::stdin();
    let interactive = stdin.is_terminal();
    if interactive {
        eprintln!("Ask about your documents. Ctrl-C stops an answer; `exit` or Ctrl-D ends.");
    }
    let mut stdout = std::io::stdout();
    let mut previous: Option<String> = None;
    let mut lines = stdin.lock().lines();
    loop {
        if interactive {
            eprint!("> ");
            let _ = std::io::stderr().flush();
        }
        let Some(line) = lines.next() else { break };
        let line = line.context("reading a question from stdin")?;
        let question = line.trim();
        if question.is_empty() {
            continue;
        }
        if matches!(question, "exit" | "quit" | "/exit" | "/quit") {
            break;
        }
        super::clear_interrupt();
        let query = answer::standalone_query(question, previous.as_deref());
        previous = Some(query.clone());
        if query != question && !args.json {
            println!("(searching for: {query})");
        }

        let stream = !args.json;
        let asked = asker.ask(
            runtime,
            &mut retriever,
            &query,
            || Ok(&mut model),
            |piece| {
                if stream {
                    let _ = write!(stdout, "{piece}");
                    let _ = stdout.flush();
                }
                !super::interrupted()
            },
        )?;
        let Some(response) = asked.response else {
            let passages = &asked.retrieved.passages;
            let reason = asked.retrieved.refusal.expect("refused before generation");
            if args.json {
                let mut report =
                    AnswerReport::refused(question, passages, &reason, Timings::default());
                if let AnswerReport::Refused(refused) = &mut report {
                    refused.query = Some(query.clone());
                }
                print_line(&report::json(&report))?;
            } else {
                println!("{} ({reason})\n", answer::REFUSAL);
            }
            continue;
        };
        let stopped = response.finish() == FinishReason::Interrupted;
        if args.json {
            print_line(&report::json(&ChatAnswer::new(question, &query, &response)))?;
            continue;
        }
        if !response.shown.is_empty() {
            println!();
        }
        if stopped {
            println!("(stopped)");
        }
        if response.refused {
            print_refused_after_generation(&response);
        } else {
            print_checked(&response, global.verbose);
        }
        println!();
    }
    Ok(crate::exit::OK)
}

fn print_line(value: &serde_json::Value) -> Result<()> {
    let mut stdout = std::io::stdout();
    writeln!(stdout, "{}", serde_json::to_string(value)?)?;
    stdout.flush()?;
    Ok(())
}
