//! Identities for the live path: a development certificate authority and a
//! certificate per participant ([`init`]), and the identity a peer's
//! certificate proves ([`identity_of`]).
//!
//! A certificate's identity is its URI subject-alternative name:
//! `urn:gcif:ministry:HN-SEDS` for a ministry's node, `urn:gcif:hub` for the
//! hub. Without one, the subject's common name is read the same way (`hub`
//! or a ministry code), so a certificate made by another tool (openssl,
//! cfssl, a ministry's own PKI) only has to put the code there. Every
//! certificate is also valid as a TLS server for the host names given
//! (`localhost`, `127.0.0.1` and `::1` by default): nodes serve
//! `Ministry.Deliver` and the hub serves `Hub`.
//!
//! The files of a directory made by [`init`], as `--tls DIR` reads them:
//! `ca.pem` (the authority every side trusts), `ca.key`, `hub.pem` and
//! `hub.key`, and `CODE.pem` and `CODE.key` for each participant. Keys are
//! ECDSA P-256 in PKCS#8 PEM, readable by rustls, grpcio and openssl alike,
//! and written owner-only.

use std::fs;
use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};

use crate::model::{Caller, Ministry};

/// The URI that names the hub in its certificate.
pub const HUB_URI: &str = "urn:gcif:hub";
/// The prefix of the URI that names a ministry in its certificate.
pub const MINISTRY_URI: &str = "urn:gcif:ministry:";
/// The name of the hub's files (`hub.pem`, `hub.key`).
pub const HUB: &str = "hub";
/// The authority's certificate, which every side trusts.
pub const CA: &str = "ca.pem";

/// Why certificates could not be made or read.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    #[error("{0}: {1}")]
    Io(PathBuf, std::io::Error),
    #[error(
        "{0} already holds a certificate authority (ca.pem); pick another directory or remove it"
    )]
    Exists(PathBuf),
    #[error("`{0}` is not a host name or IP address a certificate can name")]
    BadHost(String),
    #[error("making a certificate: {0}")]
    Rcgen(#[from] rcgen::Error),
}

/// What [`init`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Made {
    /// The identities certified: `hub`, then each ministry code.
    pub identities: Vec<String>,
    /// Every file written, in order.
    pub files: Vec<PathBuf>,
}

/// Creates a development authority in `dir` and a certificate for the hub
/// and for each of `ministries`, each valid as a TLS server for `hosts`
/// and as a client, for `years` from the start of this year. Refuses a
/// directory that already holds an authority.
pub fn init(
    dir: &Path,
    ministries: &[Ministry],
    hosts: &[String],
    years: u16,
) -> Result<Made, CertError> {
    if dir.join(CA).exists() {
        return Err(CertError::Exists(dir.to_path_buf()));
    }
    fs::create_dir_all(dir).map_err(|e| CertError::Io(dir.to_path_buf(), e))?;
    let names = hosts
        .iter()
        .map(|h| host_name(h))
        .collect::<Result<Vec<_>, _>>()?;
    let year = chrono::Datelike::year(&chrono::Utc::now());
    let (from, until) = (
        rcgen::date_time_ymd(year, 1, 1),
        rcgen::date_time_ymd(year + i32::from(years.max(1)), 1, 1),
    );

    let mut made = Made {
        identities: Vec::new(),
        files: Vec::new(),
    };
    let ca_key = KeyPair::generate()?;
    let mut ca = CertificateParams::default();
    ca.distinguished_name = dn("GCIF development certificate authority");
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca.not_before = from;
    ca.not_after = until;
    let ca_cert = ca.self_signed(&ca_key)?;
    write(dir, CA, &ca_cert.pem(), false, &mut made)?;
    write(dir, "ca.key", &ca_key.serialize_pem(), true, &mut made)?;
    let issuer = Issuer::new(ca, ca_key);

    let leaves = std::iter::once((HUB.to_string(), HUB_URI.to_string())).chain(
        ministries
            .iter()
            .map(|m| (m.code().to_string(), format!("{MINISTRY_URI}{}", m.code()))),
    );
    for (name, uri) in leaves {
        let key = KeyPair::generate()?;
        let mut leaf = CertificateParams::default();
        leaf.distinguished_name = dn(&name);
        leaf.subject_alt_names = std::iter::once(Ok(SanType::URI(uri.as_str().try_into()?)))
            .chain(names.iter().cloned().map(Ok))
            .collect::<Result<_, rcgen::Error>>()?;
        leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        leaf.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        leaf.use_authority_key_identifier_extension = true;
        leaf.not_before = from;
        leaf.not_after = until;
        let cert = leaf.signed_by(&key, &issuer)?;
        write(dir, &format!("{name}.pem"), &cert.pem(), false, &mut made)?;
        write(
            dir,
            &format!("{name}.key"),
            &key.serialize_pem(),
            true,
            &mut made,
        )?;
        made.identities.push(name);
    }
    Ok(made)
}

fn dn(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "GCIF exchange (development)");
    dn.push(DnType::CommonName, common_name);
    dn
}

fn host_name(h: &str) -> Result<SanType, CertError> {
    let h = h.trim();
    if let Ok(ip) = h.parse::<IpAddr>() {
        return Ok(SanType::IpAddress(ip));
    }
    let valid = !h.is_empty()
        && h.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '*')
        });
    if !valid {
        return Err(CertError::BadHost(h.to_string()));
    }
    Ok(SanType::DnsName(
        h.try_into()
            .map_err(|_| CertError::BadHost(h.to_string()))?,
    ))
}

fn write(
    dir: &Path,
    name: &str,
    text: &str,
    secret: bool,
    made: &mut Made,
) -> Result<(), CertError> {
    let path = dir.join(name);
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = secret;
    let mut file = options
        .open(&path)
        .map_err(|e| CertError::Io(path.clone(), e))?;
    file.write_all(text.as_bytes())
        .map_err(|e| CertError::Io(path.clone(), e))?;
    made.files.push(path);
    Ok(())
}

/// The identity the certificate `der` (already verified against the
/// authority by TLS) proves: its `urn:gcif:` URI name, else its common
/// name. A ministry code that is not known in this process is a
/// [`Caller::Stranger`]; a certificate naming nothing usable too.
pub fn identity_of(der: &[u8]) -> Caller {
    let Ok((_, cert)) = x509_parser::parse_x509_certificate(der) else {
        return Caller::Stranger("an unreadable certificate".into());
    };
    let uri = cert
        .subject_alternative_name()
        .ok()
        .flatten()
        .and_then(|san| {
            san.value.general_names.iter().find_map(|n| match n {
                x509_parser::extensions::GeneralName::URI(u) if u.starts_with("urn:gcif:") => {
                    Some(u.to_string())
                }
                _ => None,
            })
        });
    let name = match uri {
        Some(u) if u == HUB_URI => return Caller::Hub,
        Some(u) => match u.strip_prefix(MINISTRY_URI) {
            Some(code) => code.to_string(),
            None => return Caller::Stranger(u),
        },
        None => match cert
            .subject()
            .iter_common_name()
            .next()
            .and_then(|cn| cn.as_str().ok())
        {
            Some(HUB) => return Caller::Hub,
            Some(cn) => cn.to_string(),
            None => return Caller::Stranger("a certificate that names no one".into()),
        },
    };
    match name.parse::<Ministry>() {
        Ok(m) => Caller::Ministry(m),
        Err(_) => Caller::Stranger(name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::built_in::*;

    fn pem_der(path: &Path) -> Vec<u8> {
        let text = fs::read_to_string(path).unwrap();
        let b64: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
        base64_decode(&b64)
    }

    // A small decoder, so the test needs no dependency.
    fn base64_decode(s: &str) -> Vec<u8> {
        let value = |c: u8| match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            _ => 63,
        };
        let bytes: Vec<u8> = s.bytes().filter(|&c| c != b'=').collect();
        let mut out = Vec::new();
        for chunk in bytes.chunks(4) {
            let n = chunk
                .iter()
                .enumerate()
                .fold(0u32, |n, (i, &c)| n | u32::from(value(c)) << (18 - 6 * i));
            out.extend_from_slice(&n.to_be_bytes()[1..chunk.len()]);
        }
        out
    }

    #[test]
    fn init_certifies_the_hub_and_each_ministry_and_their_names_are_read_back() {
        let dir = std::env::temp_dir().join(format!("gcif-certs-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let hosts = vec!["localhost".to_string(), "127.0.0.1".to_string()];
        let made = init(&dir, &[HN_SEDS, GT_MINGOB], &hosts, 2).unwrap();
        assert_eq!(made.identities, ["hub", "HN-SEDS", "GT-MINGOB"]);
        assert_eq!(identity_of(&pem_der(&dir.join("hub.pem"))), Caller::Hub);
        assert_eq!(
            identity_of(&pem_der(&dir.join("HN-SEDS.pem"))),
            Caller::Ministry(HN_SEDS)
        );
        assert!(matches!(
            identity_of(&pem_der(&dir.join(CA))),
            Caller::Stranger(_)
        ));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.join("HN-SEDS.key")).unwrap().permissions();
            assert_eq!(mode.mode() & 0o777, 0o600);
        }
        assert!(matches!(
            init(&dir, &[HN_SEDS], &hosts, 2),
            Err(CertError::Exists(_))
        ));
        assert!(matches!(
            init(&dir.join("x"), &[HN_SEDS], &["not a host".into()], 2),
            Err(CertError::BadHost(_))
        ));
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn garbage_is_a_stranger_not_a_panic() {
        assert!(matches!(identity_of(b"nonsense"), Caller::Stranger(_)));
    }
}
