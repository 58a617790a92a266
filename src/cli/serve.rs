//! `dossier serve`: the flags of the library's server (`dossier::serve`).

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use dossier::serve::{ExposedWithoutToken, ServeConfig};
use tokio::runtime::Runtime;

use super::args::{AnswerArgs, RankArgs};
use crate::GlobalArgs;

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address and port to listen on. Anything but a loopback address also needs --token or
    /// --token-file: the store is confidential.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
    /// Bearer token every request must carry (`Authorization: Bearer TOKEN`), except the
    /// static page at `/`, which asks for it.
    #[arg(long, env = "DOSSIER_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Read the bearer token from this file (first line), so that it stays out of `ps`.
    #[arg(long, conflicts_with = "token")]
    token_file: Option<PathBuf>,
    /// Passages retrieved per question (as `ask -k`).
    #[arg(short, long, default_value_t = 4)]
    k: usize,
    /// How answers are generated and checked (as for `ask`); a request may ask for a
    /// shorter answer than --max-tokens.
    #[command(flatten)]
    answer: AnswerArgs,
    /// Questions that may wait for the model, counting the one being answered; more get
    /// 503 with Retry-After.
    #[arg(long, default_value_t = 8)]
    max_queue: usize,
    /// Retrievers (embedder + store handle) serving searches side by side.
    #[arg(long, default_value_t = 2)]
    searchers: usize,
    /// Requests per minute one client address may make (429 past it); 0: no limit.
    #[arg(long, default_value_t = 600)]
    rate_limit: u32,
    /// Largest PDF upload, in MiB (413 past it).
    #[arg(long, default_value_t = 64)]
    max_upload_mb: u64,
    /// Where uploaded PDFs are kept [default: STORE/uploads for a store directory; uploads
    /// are refused when the store is an object-store URI and this is not given].
    #[arg(long)]
    uploads: Option<PathBuf>,
    /// Append-only JSON-lines audit log: time, client, question, documents cited, uploads
    /// and deletions [default: STORE/audit.jsonl for a store directory].
    #[arg(long)]
    audit_log: Option<PathBuf>,
    /// Keep no audit log.
    #[arg(long, conflicts_with = "audit_log")]
    no_audit: bool,
    #[command(flatten)]
    rank: RankArgs,
}

impl ServeArgs {
    fn config(&self) -> ServeConfig {
        ServeConfig {
            addr: self.addr,
            token: self.token.clone(),
            token_file: self.token_file.clone(),
            model: self.answer.model_choice(),
            asker: self.answer.asker(self.k),
            max_queue: self.max_queue,
            searchers: self.searchers,
            rate_limit: self.rate_limit,
            max_upload_mb: self.max_upload_mb,
            uploads: self.uploads.clone(),
            audit_log: self.audit_log.clone(),
            no_audit: self.no_audit,
            ranking: self.rank.ranking(),
        }
    }
}

pub fn run(runtime: &Runtime, global: &GlobalArgs, args: ServeArgs) -> Result<u8> {
    match dossier::serve::run(runtime, &global.llm_settings()?, args.config()) {
        Ok(()) => Ok(crate::exit::OK),
        Err(e) => match e.downcast_ref::<ExposedWithoutToken>() {
            Some(exposed) => {
                eprintln!("error: {exposed}");
                Ok(crate::exit::USAGE)
            }
            None => Err(e),
        },
    }
}
