//! `gcif-sim audit verify | show`: the hub's tamper-evident audit trail.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::BAD_INPUT;

/// `gcif-sim audit`.
#[derive(Debug, Args)]
pub struct AuditArgs {
    #[command(subcommand)]
    pub command: AuditCommand,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Checks the hash chain and the checkpoints of a hub's audit trail:
    /// exit 0 intact, 1 tampered with (the first bad entry is named), 2 unreadable.
    Verify {
        /// The hub's `--data` directory.
        dir: PathBuf,
    },
    /// Prints the audit trail, or the history of one message.
    Show {
        /// The hub's `--data` directory.
        dir: PathBuf,
        /// Only the entries about this message id.
        #[arg(long)]
        message: Option<String>,
        /// Print the entries as they are (JSON lines).
        #[arg(long)]
        json: bool,
    },
}

pub fn audit(args: AuditArgs) -> ExitCode {
    match args.command {
        AuditCommand::Verify { dir } => match gcif_sim::audit::verify(&dir) {
            Ok(v) => {
                outln!(
                    "{}: audit trail intact: {} entries, {} checkpoints, last hash {}",
                    dir.display(),
                    v.entries,
                    v.checkpoints,
                    v.last
                );
                ExitCode::SUCCESS
            }
            Err(e) if e.line == 0 => {
                eprintln!("{e}");
                ExitCode::from(BAD_INPUT)
            }
            Err(e) => {
                outln!("TAMPERED {e}");
                ExitCode::from(1)
            }
        },
        AuditCommand::Show { dir, message, json } => {
            match gcif_sim::audit::history(&dir, message.as_deref()) {
                Ok(entries) => {
                    for e in &entries {
                        if json {
                            outln!("{e}");
                            continue;
                        }
                        let mut rest = e.clone();
                        let mut take = |k: &str| rest.as_object_mut().and_then(|o| o.remove(k));
                        let seq = take("seq").and_then(|v| v.as_u64()).unwrap_or(0);
                        let t = take("t").and_then(|v| v.as_u64()).unwrap_or(0);
                        let event = take("event")
                            .and_then(|v| v.as_str().map(str::to_string))
                            .unwrap_or_default();
                        take("prev");
                        take("hash");
                        outln!(
                            "{seq:>7}  {:>12}  {event:<15} {rest}",
                            gcif_sim::format::human(t)
                        );
                    }
                    if entries.is_empty() {
                        outln!(
                            "no entries{}",
                            message.map_or(String::new(), |m| format!(" about {m}"))
                        );
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("{e}");
                    ExitCode::from(BAD_INPUT)
                }
            }
        }
    }
}
