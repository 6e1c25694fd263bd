//! Mutual TLS (rustls, through tonic) and the caller's identity.
//!
//! With `--tls DIR`, every server asks each connection for a certificate
//! signed by `DIR/ca.pem` and accepts none without one; every client shows
//! its own and checks the server's against the same authority. The identity
//! a call runs under ([`caller_of`]) is then the certificate's
//! ([`crate::certs::identity_of`]); without TLS it is what the connection
//! itself says ([`Identified`]): the connecting host in the simulation,
//! nobody on plain TCP.

use std::path::{Path, PathBuf};

use tonic::Request;
use tonic::transport::{Certificate, ClientTlsConfig, Identity, ServerTlsConfig};

use crate::certs;
use crate::model::Caller;

/// The files of one side of a mutually authenticated connection: the
/// authority it trusts and its own certificate and key (PEM).
#[derive(Clone)]
pub struct Tls {
    ca: Vec<u8>,
    cert: Vec<u8>,
    key: Vec<u8>,
    /// Where the certificate was read from, for messages.
    pub cert_path: PathBuf,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tls({})", self.cert_path.display())
    }
}

/// A TLS file that could not be used.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct TlsError {
    pub path: PathBuf,
    pub message: String,
}

impl Tls {
    /// The files `gcif-sim certs init DIR` wrote for `name` (`hub` or a
    /// ministry code): `DIR/ca.pem`, `DIR/NAME.pem`, `DIR/NAME.key`; with
    /// `cert`, that certificate (and the `.key` beside it) instead.
    pub fn load(dir: &Path, name: &str, cert: Option<&Path>) -> Result<Tls, TlsError> {
        let cert_path = cert
            .map(Path::to_path_buf)
            .unwrap_or_else(|| dir.join(format!("{name}.pem")));
        let key_path = cert_path.with_extension("key");
        let read = |path: &Path, what: &str| -> Result<Vec<u8>, TlsError> {
            let bytes = std::fs::read(path).map_err(|e| TlsError {
                path: path.to_path_buf(),
                message: format!(
                    "cannot read {what}: {e} (make one with `gcif-sim certs init DIR`)"
                ),
            })?;
            if !String::from_utf8_lossy(&bytes).contains("-----BEGIN ") {
                return Err(TlsError {
                    path: path.to_path_buf(),
                    message: format!("not a PEM file ({what})"),
                });
            }
            Ok(bytes)
        };
        Ok(Tls {
            ca: read(&dir.join(certs::CA), "the certificate authority")?,
            cert: read(&cert_path, "the certificate")?,
            key: read(&key_path, "the private key")?,
            cert_path,
        })
    }

    pub(super) fn server(&self) -> ServerTlsConfig {
        ServerTlsConfig::new()
            .identity(Identity::from_pem(&self.cert, &self.key))
            .client_ca_root(Certificate::from_pem(&self.ca))
            .timeout(crate::config::TLS_HANDSHAKE_TIMEOUT)
    }

    /// The client side, checking that the server's certificate names `host`.
    pub(super) fn client(&self, host: &str) -> ClientTlsConfig {
        ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(&self.ca))
            .identity(Identity::from_pem(&self.cert, &self.key))
            .domain_name(host.trim_start_matches('[').trim_end_matches(']'))
            .assume_http2(true)
    }
}

/// What a byte stream says of its own caller before any TLS: the
/// connecting host of a simulated link, nobody for plain TCP.
pub trait Identified {
    fn caller(&self) -> Caller;
}

impl Identified for tokio::net::TcpStream {
    fn caller(&self) -> Caller {
        Caller::Unverified
    }
}

impl Identified for tokio::io::DuplexStream {
    fn caller(&self) -> Caller {
        Caller::Unverified
    }
}

/// The identity `request` runs under. With `tls`, only a certificate
/// counts: a connection without one (which the TLS layer should already
/// have refused) may act as no one.
pub(super) fn caller_of<T>(request: &Request<T>, tls: bool) -> Caller {
    if tls {
        let certs = request
            .extensions()
            .get::<tonic::transport::server::TlsConnectInfo<Caller>>()
            .and_then(|info| info.peer_certs());
        return match certs.as_deref().and_then(|c| c.first()) {
            Some(cert) => certs::identity_of(cert),
            None => Caller::Stranger("a connection without a certificate".into()),
        };
    }
    request
        .extensions()
        .get::<Caller>()
        .cloned()
        .unwrap_or(Caller::Unverified)
}
