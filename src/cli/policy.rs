//! `gcif-sim policy check | explain | diff` and `gcif-sim check RUN_DIR`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Subcommand};

use gcif_sim::model::{Handling, Kind, Ministry, Status};
use gcif_sim::policy::{Agreement, Policy, explain};

use super::BAD_INPUT;

/// `gcif-sim policy`.
#[derive(Debug, Args)]
pub struct PolicyArgs {
    #[command(subcommand)]
    pub command: PolicyCommand,
}

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Checks agreement files: every error located as file:line:col.
    Check {
        /// Agreement files (YAML), or `compact-2019`.
        #[arg(required = true)]
        files: Vec<String>,
    },
    /// Who would receive a message under an agreement, field by field, with
    /// the rule and reason behind each line.
    Explain {
        /// The agreement file, or `compact-2019`.
        file: String,
        /// The kind of message [default: each of the three].
        #[arg(long)]
        kind: Option<Kind>,
        /// The sender [default: the agreement's first participant].
        #[arg(long)]
        from: Option<String>,
        /// The TLP 2.0 mark.
        #[arg(long, default_value = "green")]
        handling: Handling,
        /// A message written as a scenario inject (as `gcif-sim send` reads
        /// it) instead of a sample; its `from` and `kind` override the flags.
        #[arg(long)]
        inject: Option<PathBuf>,
        /// Pseudonymisation keys, as NAME=SECRET.
        #[arg(long = "key", value_parser = super::live::parse_key)]
        keys: Vec<(String, String)>,
        /// Print the explanation as JSON.
        #[arg(long)]
        json: bool,
    },
    /// What changes for whom between two agreements: for each kind, every
    /// sender of either and every handling mark (a sample message each, or
    /// the `--inject` messages), the recipients gained or lost and the
    /// fields treated differently.
    Diff {
        /// The baseline agreement (file or `compact-2019`).
        a: String,
        /// The agreement compared with it.
        b: String,
        /// Compare on these messages (scenario-inject YAML) instead of samples.
        #[arg(long)]
        inject: Vec<PathBuf>,
        /// Print the changes as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// The agreement `name` (a file or compact-2019) among its own
/// participants, all in exercise status, with its keys.
fn policy_for(name: &str, keys: &[(String, String)]) -> anyhow::Result<Policy> {
    let agreement = Arc::new(Agreement::named(name)?);
    let members: Vec<Ministry> = agreement.participants.iter().map(|p| p.ministry).collect();
    let policy = Policy::new(agreement, members, Status::Exercise);
    let keys: std::collections::BTreeMap<String, String> = keys.iter().cloned().collect();
    match policy.clone().with_keys(&keys, |v| std::env::var(v).ok()) {
        Ok(p) => Ok(p),
        // `explain` and `diff` show what is pseudonymised, not the
        // pseudonyms: a key without its secret is fine unless one was given.
        Err(_) if keys.is_empty() => Ok(policy),
        Err(e) => Err(e.into()),
    }
}

/// A message read from an inject file, sent by `from`.
fn inject_message(
    path: &Path,
    default_from: Ministry,
) -> anyhow::Result<gcif_sim::model::Envelope> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("{}: cannot read: {e}", path.display()))?;
    let env = gcif_sim::scenario::message(
        &path.display().to_string(),
        &text,
        default_from,
        gcif_sim::model::Timestamp(0),
        &format!("{}-EXPLAIN", default_from.code()),
    )?;
    Ok(env)
}

pub fn policy(args: PolicyArgs) -> ExitCode {
    match args.command {
        PolicyCommand::Check { files } => check_files(&files),
        PolicyCommand::Explain {
            file,
            kind,
            from,
            handling,
            inject,
            keys,
            json,
        } => match explain_cmd(
            &file,
            kind,
            from.as_deref(),
            handling,
            inject.as_deref(),
            &keys,
            json,
        ) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => bad(e),
        },
        PolicyCommand::Diff { a, b, inject, json } => match diff_cmd(&a, &b, &inject, json) {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::from(1),
            Err(e) => bad(e),
        },
    }
}

fn bad(e: anyhow::Error) -> ExitCode {
    eprintln!("{e:#}");
    ExitCode::from(BAD_INPUT)
}

fn check_files(files: &[String]) -> ExitCode {
    let mut ok = true;
    for f in files {
        match Agreement::named(f) {
            Ok(a) => {
                let roles: Vec<String> = a
                    .roles
                    .iter()
                    .map(|(r, _)| {
                        let n = a.participants.iter().filter(|p| &p.role == r).count();
                        format!("{n} {r}")
                    })
                    .collect();
                outln!(
                    "{f}: agreement {} is valid: {} participants ({}), {} share rules, {} \
                     handling limits, {} redactions, {} keys",
                    a.name,
                    a.participants.len(),
                    roles.join(", "),
                    a.rules.len(),
                    a.handling.len(),
                    a.redactions.len(),
                    a.keys.len()
                );
            }
            Err(e) => {
                eprintln!("{e}");
                ok = false;
            }
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(BAD_INPUT)
    }
}

fn explain_cmd(
    file: &str,
    kind: Option<Kind>,
    from: Option<&str>,
    handling: Handling,
    inject: Option<&Path>,
    keys: &[(String, String)],
    json: bool,
) -> anyhow::Result<()> {
    let policy = policy_for(file, keys)?;
    let from = match from {
        Some(code) => {
            let m: Ministry = code.trim().parse()?;
            anyhow::ensure!(
                policy.member(m).is_some(),
                "--from {m}: not a participant of agreement {}",
                policy.name()
            );
            m
        }
        None => policy
            .participants()
            .next()
            .ok_or_else(|| anyhow::anyhow!("agreement {} has no participant", policy.name()))?,
    };
    let messages = match inject {
        Some(path) => {
            let mut env = inject_message(path, from)?;
            env.status = Status::Exercise;
            vec![env]
        }
        None => kind
            .map_or(Kind::ALL.to_vec(), |k| vec![k])
            .into_iter()
            .map(|k| explain::sample(k, from, handling))
            .collect(),
    };
    let explained: Vec<_> = messages
        .iter()
        .map(|e| explain::explain(&policy, e))
        .collect();
    if json {
        outln!("{}", serde_json::to_string_pretty(&explained)?);
    } else {
        for (i, e) in explained.iter().enumerate() {
            if i > 0 {
                outln!();
            }
            out!("{}", e.to_text());
        }
    }
    Ok(())
}

/// Prints what changes; `Ok(true)` when nothing does.
fn diff_cmd(a: &str, b: &str, inject: &[PathBuf], json: bool) -> anyhow::Result<bool> {
    let pa = policy_for(a, &[])?;
    let pb = policy_for(b, &[])?;
    let mut senders: Vec<Ministry> = pa.participants().chain(pb.participants()).collect();
    senders.sort();
    senders.dedup();
    let mut messages = Vec::new();
    if inject.is_empty() {
        for kind in Kind::ALL {
            for &from in &senders {
                for handling in Handling::ALL {
                    let mut env = explain::sample(kind, from, handling);
                    if handling == Handling::Red {
                        // Named recipients: every other participant of either.
                        env.to = senders.iter().copied().filter(|&m| m != from).collect();
                    }
                    messages.push(env);
                }
            }
        }
    } else {
        for path in inject {
            for &from in &senders {
                messages.push(inject_message(path, from)?);
            }
        }
    }
    let changes = explain::diff(&pa, &pb, &messages);
    let roles_differ = !explain::participant_changes(&pa, &pb).is_empty();
    if json {
        outln!("{}", serde_json::to_string_pretty(&changes)?);
    } else if changes.is_empty() && !roles_differ {
        outln!(
            "{} and {}: no difference for {} messages (each kind, sender and mark)",
            pa.name(),
            pb.name(),
            messages.len()
        );
    } else {
        outln!(
            "{} → {}: {} changes over {} messages (each kind, sender and mark)",
            pa.name(),
            pb.name(),
            changes.len(),
            messages.len()
        );
        let roles = explain::participant_changes(&pa, &pb);
        if !roles.is_empty() {
            outln!("participants:");
            for r in roles {
                outln!("  {r}");
            }
        }
        outln!("what each recipient gets:");
        for line in explain::grouped(&changes) {
            outln!("  {line}");
        }
    }
    Ok(changes.is_empty() && !roles_differ)
}

/// `gcif-sim check RUN_DIR`: the leak checker on a run directory.
pub fn check_run(dir: &Path, keys: &[(String, String)], json: bool) -> ExitCode {
    match gcif_sim::report::leaks::check_dir(dir, &keys.iter().cloned().collect()) {
        Ok(report) => {
            if json {
                match serde_json::to_string_pretty(&report) {
                    Ok(s) => outln!("{s}"),
                    Err(e) => return bad(e.into()),
                }
            } else {
                outln!("{}", report.headline());
                for l in &report.leaks {
                    outln!("  LEAK {l}");
                }
            }
            if report.is_clean() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => bad(e),
    }
}
