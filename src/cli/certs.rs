//! `gcif-sim certs init`: a development authority and certificates for the
//! live path's mutual TLS.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::BAD_INPUT;

/// `gcif-sim certs`.
#[derive(Debug, Args)]
pub struct CertsArgs {
    #[command(subcommand)]
    pub command: CertsCommand,
}

#[derive(Debug, Subcommand)]
pub enum CertsCommand {
    /// Creates DIR with a development certificate authority (ca.pem, ca.key),
    /// a certificate for the hub (hub.pem, hub.key) and one for each
    /// participant of the agreement (CODE.pem, CODE.key), its code in the
    /// subject and as the URI name urn:gcif:ministry:CODE. For development
    /// and exercises: a real deployment brings its own PKI.
    Init {
        /// The directory to create (refused if it already holds ca.pem).
        dir: PathBuf,
        /// Certify the participants of this agreement: `compact-2019` (built
        /// in) or an agreement file.
        #[arg(long, default_value = "compact-2019")]
        policy: String,
        /// Also certify these codes (comma separated or repeated), e.g. one
        /// an amendment adds later.
        #[arg(long = "ministry", value_delimiter = ',', value_parser = super::live::participant_code)]
        ministries: Vec<gcif_sim::model::Ministry>,
        /// The host names and addresses the certificates are valid for as
        /// servers (comma separated or repeated).
        #[arg(
            long = "host",
            value_delimiter = ',',
            default_value = "localhost,127.0.0.1,::1"
        )]
        hosts: Vec<String>,
        /// Years the certificates are valid for, from the start of this year.
        #[arg(long, default_value_t = 2)]
        years: u16,
    },
}

pub fn certs(args: CertsArgs) -> ExitCode {
    let CertsCommand::Init {
        dir,
        policy,
        ministries,
        hosts,
        years,
    } = args.command;
    let agreement = match gcif_sim::policy::Agreement::named(&policy) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(BAD_INPUT);
        }
    };
    let mut codes: Vec<_> = agreement.participants.iter().map(|p| p.ministry).collect();
    for m in ministries {
        if !codes.contains(&m) {
            codes.push(m);
        }
    }
    match gcif_sim::certs::init(&dir, &codes, &hosts, years) {
        Ok(made) => {
            outln!(
                "{}: a development certificate authority and certificates for {} (valid for {}, {} years)",
                dir.display(),
                made.identities.join(", "),
                hosts.join(", "),
                years.max(1)
            );
            for f in &made.files {
                outln!("  {}", f.display());
            }
            outln!(
                "use them with --tls {}: `gcif-sim hub --tls {0}`, `gcif-sim node --ministry CODE --hub https://127.0.0.1:50051 --tls {0}`",
                dir.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("gcif-sim certs: {e}");
            ExitCode::from(BAD_INPUT)
        }
    }
}
