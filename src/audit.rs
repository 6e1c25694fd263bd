//! The hub's tamper-evident audit trail: every decision the hub makes,
//! appended to `audit.jsonl` under its data directory, each entry chained to
//! the one before by SHA-256, with checkpoints in `audit.checkpoints`.
//!
//! An entry is one JSON line: `{"seq":N,"prev":HASH,"t":…,"event":…,…,"hash":HASH}`.
//! `hash` is the SHA-256 (hex) of the line as written up to `hash`, closed
//! with `}`: that is, of `{"seq":N,"prev":…,…}` exactly as it stands in the
//! file, so an auditor can recompute it with any tool. `prev` is the
//! previous entry's `hash` (64 zeros for the first). Every
//! [`CHECKPOINT_EVERY`] entries, and when the hub stops, the last entry's
//! `seq` and `hash` are appended to `audit.checkpoints` and both files are
//! synced to disk.
//!
//! [`verify`] names the first entry that was edited, removed, inserted or
//! reordered, and a tail cut below the last checkpoint. What it cannot see:
//! a tail cut after the last checkpoint (entries not yet checkpointed when
//! the files were taken), or both files rewritten consistently by someone
//! who can write them — the checkpoints are for an auditor to copy
//! elsewhere.

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use sha2::{Digest, Sha256};

use crate::events::{Event, EventBody, EventSink};

/// The audit log's file name in the data directory.
pub const LOG: &str = "audit.jsonl";
/// The checkpoints' file name in the data directory.
pub const CHECKPOINTS: &str = "audit.checkpoints";
/// Entries between two checkpoints.
pub const CHECKPOINT_EVERY: u64 = 100;
/// `prev` of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Whether the hub's audit trail records `body`: its decisions, not the
/// transport's comings and goings.
pub fn is_decision(body: &EventBody) -> bool {
    matches!(
        body,
        EventBody::Accepted { .. }
            | EventBody::Rejected { .. }
            | EventBody::RefusedRequest { .. }
            | EventBody::IdentityRefused { .. }
            | EventBody::Delivered { .. }
            | EventBody::Duplicate { .. }
            | EventBody::Undeliverable { .. }
            | EventBody::Reshared { .. }
            | EventBody::ReshareRefused { .. }
            | EventBody::Amended { .. }
            | EventBody::Registered { .. }
            | EventBody::Started { .. }
            | EventBody::Control { .. }
    )
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The hash of an entry whose line, without `hash`, is `body` (`{…}`).
fn hash_of(body: &str) -> String {
    hex(&Sha256::digest(body.as_bytes()))
}

/// If `path` ends without a newline, in a line that is not `whole`, moves
/// that line to `path.torn` (appended) and cuts it off; a whole last line
/// only gets its newline. The bytes moved, if any.
fn mend_torn_tail(path: &Path, whole: fn(&str) -> bool) -> io::Result<Option<usize>> {
    let Ok(bytes) = std::fs::read(path) else {
        return Ok(None);
    };
    if bytes.is_empty() || bytes.ends_with(b"\n") {
        return Ok(None);
    }
    let start = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let tail = &bytes[start..];
    let mut file = OpenOptions::new().write(true).open(path)?;
    if std::str::from_utf8(tail).is_ok_and(whole) {
        use std::io::Seek;
        file.seek(io::SeekFrom::End(0))?;
        file.write_all(b"\n")?;
        file.sync_all()?;
        return Ok(None);
    }
    let mut torn_name = path.as_os_str().to_owned();
    torn_name.push(".torn");
    let mut torn = OpenOptions::new()
        .create(true)
        .append(true)
        .open(PathBuf::from(torn_name))?;
    torn.write_all(tail)?;
    torn.write_all(b"\n")?;
    torn.sync_all()?;
    file.set_len(start as u64)?;
    file.sync_all()?;
    Ok(Some(tail.len()))
}

/// The line of entry `seq` after `prev` for `event`, with its hash.
fn entry(seq: u64, prev: &str, event: &Event) -> (String, String) {
    let inner = serde_json::to_string(event).expect("an event serializes");
    // `{"t":…}` → `{"seq":N,"prev":"…","t":…}`
    let body = format!(r#"{{"seq":{seq},"prev":"{prev}",{}"#, &inner[1..]);
    let hash = hash_of(&body);
    let line = format!(r#"{},"hash":"{hash}"}}"#, &body[..body.len() - 1]);
    (line, hash)
}

/// Why the audit trail cannot be appended to.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct AuditError {
    pub path: String,
    pub message: String,
}

struct Chain {
    log: File,
    checkpoints: File,
    seq: u64,
    last: String,
    error: Option<io::Error>,
}

/// Appends the hub's decisions to the audit trail of a data directory.
pub struct AuditLog {
    dir: PathBuf,
    chain: Mutex<Chain>,
}

impl AuditLog {
    /// Opens (or creates) the audit trail in `dir`, continuing its chain.
    /// A torn last line (a crash mid-write: no newline at the end, and not a
    /// whole entry) is moved to `audit.jsonl.torn` and the chain continues
    /// from the last whole entry; any other line that is not an entry is an
    /// error to look at.
    pub fn open(dir: &Path) -> Result<AuditLog, AuditError> {
        let err = |path: &Path, message: String| AuditError {
            path: path.display().to_string(),
            message,
        };
        std::fs::create_dir_all(dir).map_err(|e| err(dir, format!("cannot create: {e}")))?;
        let path = dir.join(LOG);
        for (p, whole) in [
            (&path, (|l: &str| head(l).is_some()) as fn(&str) -> bool),
            (&dir.join(CHECKPOINTS), |l: &str| {
                serde_json::from_str::<serde_json::Value>(l).is_ok()
            }),
        ] {
            if let Some(n) = mend_torn_tail(p, whole)
                .map_err(|e| err(p, format!("cannot mend a torn last line: {e}")))?
            {
                tracing::warn!(
                    file = %p.display(),
                    bytes = n,
                    "a torn last line (a crash mid-write) was moved to .torn"
                );
            }
        }
        let (mut seq, mut last) = (0, GENESIS.to_string());
        if path.is_file() {
            let file = File::open(&path).map_err(|e| err(&path, format!("cannot read: {e}")))?;
            for (i, line) in BufReader::new(file).lines().enumerate() {
                let line = line.map_err(|e| err(&path, format!("cannot read: {e}")))?;
                if line.trim().is_empty() {
                    continue;
                }
                let (s, h) = head(&line).ok_or_else(|| {
                    err(
                        &path,
                        format!(
                            "line {}: not an audit entry; run `gcif-sim audit verify`",
                            i + 1
                        ),
                    )
                })?;
                (seq, last) = (s, h);
            }
        }
        let open = |p: &Path| {
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .map_err(|e| err(p, format!("cannot write: {e}")))
        };
        let checkpoints = dir.join(CHECKPOINTS);
        Ok(AuditLog {
            dir: dir.to_path_buf(),
            chain: Mutex::new(Chain {
                log: open(&path)?,
                checkpoints: open(&checkpoints)?,
                seq,
                last,
                error: None,
            }),
        })
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes a checkpoint of the last entry and syncs both files; the first
    /// write error since the log was opened, if any.
    pub fn checkpoint(&self) -> io::Result<()> {
        let mut c = self.chain.lock().unwrap_or_else(|e| e.into_inner());
        let Chain {
            log,
            checkpoints,
            seq,
            last,
            error,
        } = &mut *c;
        if let Some(e) = error.take() {
            return Err(e);
        }
        checkpoint(log, checkpoints, *seq, last)
    }
}

fn checkpoint(log: &mut File, checkpoints: &mut File, seq: u64, last: &str) -> io::Result<()> {
    log.sync_data()?;
    writeln!(checkpoints, r#"{{"seq":{seq},"hash":"{last}"}}"#)?;
    checkpoints.sync_data()
}

impl EventSink for AuditLog {
    fn write(&self, event: Event) {
        if !is_decision(&event.body) {
            return;
        }
        let mut c = self.chain.lock().unwrap_or_else(|e| e.into_inner());
        if c.error.is_some() {
            return;
        }
        let seq = c.seq + 1;
        let (line, hash) = entry(seq, &c.last, &event);
        let c = &mut *c;
        let written = writeln!(c.log, "{line}").and_then(|()| {
            if seq.is_multiple_of(CHECKPOINT_EVERY) {
                checkpoint(&mut c.log, &mut c.checkpoints, seq, &hash)
            } else {
                Ok(())
            }
        });
        match written {
            Ok(()) => {
                c.seq = seq;
                c.last = hash;
            }
            Err(e) => {
                tracing::error!(%e, "cannot append to the audit trail");
                c.error = Some(e);
            }
        }
    }
}

/// `seq` and `hash` of an entry line, if it has them.
fn head(line: &str) -> Option<(u64, String)> {
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    Some((v["seq"].as_u64()?, v["hash"].as_str()?.to_string()))
}

/// What [`verify`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub entries: u64,
    pub checkpoints: usize,
    pub last: String,
}

/// The first thing wrong with an audit trail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct Broken {
    pub file: String,
    pub line: usize,
    pub message: String,
}

/// Checks the chain of the audit trail in `dir` and its checkpoints.
pub fn verify(dir: &Path) -> Result<Verified, Broken> {
    let path = dir.join(LOG);
    let name = path.display().to_string();
    let broken = |line: usize, message: String| Broken {
        file: name.clone(),
        line,
        message,
    };
    let text = std::fs::read_to_string(&path)
        .map_err(|e| broken(0, format!("cannot read the audit trail: {e}")))?;
    let mut hashes: Vec<String> = Vec::new();
    let mut prev = GENESIS.to_string();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let expected_seq = hashes.len() as u64 + 1;
        let Some(cut) = line.rfind(r#","hash":""#) else {
            return Err(broken(n, "not an audit entry (no hash)".into()));
        };
        let body = format!("{}}}", &line[..cut]);
        let stated = line[cut + 9..].trim_end_matches("\"}");
        let v: serde_json::Value = serde_json::from_str(line)
            .map_err(|e| broken(n, format!("not an audit entry ({e})")))?;
        let seq = v["seq"].as_u64().unwrap_or(0);
        let entry_prev = v["prev"].as_str().unwrap_or("");
        if seq != expected_seq {
            let what = if seq > expected_seq {
                "an entry was removed here, or the entries were reordered"
            } else {
                "an entry was inserted here, or the entries were reordered"
            };
            return Err(broken(
                n,
                format!("entry {seq} where entry {expected_seq} belongs: {what}"),
            ));
        }
        if entry_prev != prev {
            return Err(broken(
                n,
                format!(
                    "entry {seq} does not follow the entry before it (its prev is not that \
                     entry's hash): an entry was removed, inserted or reordered"
                ),
            ));
        }
        let actual = hash_of(&body);
        if actual != stated {
            return Err(broken(
                n,
                format!("entry {seq} was edited: its hash is {actual}, it says {stated}"),
            ));
        }
        hashes.push(actual.clone());
        prev = actual;
    }
    let cp_path = dir.join(CHECKPOINTS);
    let cp_name = cp_path.display().to_string();
    let checkpoints = std::fs::read_to_string(&cp_path).unwrap_or_default();
    let mut count = 0;
    for (i, line) in checkpoints.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let bad = |message: String| Broken {
            file: cp_name.clone(),
            line: i + 1,
            message,
        };
        let v: serde_json::Value =
            serde_json::from_str(line).map_err(|e| bad(format!("not a checkpoint ({e})")))?;
        let (Some(seq), Some(hash)) = (v["seq"].as_u64(), v["hash"].as_str()) else {
            return Err(bad("not a checkpoint (no seq or hash)".into()));
        };
        count += 1;
        if seq == 0 {
            continue;
        }
        match hashes.get(seq as usize - 1) {
            None => {
                return Err(broken(
                    hashes.len() + 1,
                    format!(
                        "the audit trail ends at entry {}, but checkpoint {} (line {}) vouches \
                         for entry {seq}: its tail was cut",
                        hashes.len(),
                        count,
                        i + 1
                    ),
                ));
            }
            Some(h) if h != hash => {
                return Err(broken(
                    seq as usize,
                    format!(
                        "entry {seq} is not the one checkpoint {count} (line {}) vouches for: \
                         the trail was rewritten from here on",
                        i + 1
                    ),
                ));
            }
            Some(_) => {}
        }
    }
    Ok(Verified {
        entries: hashes.len() as u64,
        checkpoints: count,
        last: prev,
    })
}

/// The entries of the audit trail in `dir`, as JSON, about message `id`
/// (every entry when `None`).
pub fn history(dir: &Path, id: Option<&str>) -> Result<Vec<serde_json::Value>, Broken> {
    let path = dir.join(LOG);
    let text = std::fs::read_to_string(&path).map_err(|e| Broken {
        file: path.display().to_string(),
        line: 0,
        message: format!("cannot read the audit trail: {e}"),
    })?;
    Ok(text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| id.is_none_or(|id| v["msg"] == id))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Kind, MessageId, Ministry};

    fn event(i: u64) -> Event {
        Event {
            t: i,
            body: EventBody::Delivered {
                msg: MessageId(format!("HN-SEDS-{i:06}")),
                kind: Kind::CaravanAlert,
                to: Ministry::GT_MINGOB,
                latency_ms: i,
            },
        }
    }

    fn trail(name: &str, n: u64) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("gcif-audit-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let log = AuditLog::open(&dir).unwrap();
        for i in 1..=n {
            log.write(event(i));
        }
        log.checkpoint().unwrap();
        dir
    }

    fn lines(dir: &Path) -> Vec<String> {
        std::fs::read_to_string(dir.join(LOG))
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect()
    }

    fn write(dir: &Path, lines: &[String]) {
        std::fs::write(
            dir.join(LOG),
            lines.iter().map(|l| format!("{l}\n")).collect::<String>(),
        )
        .unwrap();
    }

    #[test]
    fn a_torn_last_line_is_moved_aside_and_the_chain_goes_on() {
        let dir = trail("torn", 120);
        // Entries after the last checkpoint (at 120, on shutdown) are lost
        // to a crash; here the process died half-way through writing 121.
        {
            let log = AuditLog::open(&dir).unwrap();
            log.write(event(121));
        }
        let mut all = lines(&dir);
        let last = all.pop().unwrap();
        let mut text: String = all.iter().map(|l| format!("{l}\n")).collect();
        text.push_str(&last[..last.len() / 2]);
        std::fs::write(dir.join(LOG), text).unwrap();
        let log = AuditLog::open(&dir).expect("a torn last line does not stop the hub");
        log.write(event(122));
        log.checkpoint().unwrap();
        let v = verify(&dir).unwrap();
        assert_eq!(v.entries, 121);
        let torn = std::fs::read_to_string(dir.join("audit.jsonl.torn")).unwrap();
        assert_eq!(torn, format!("{}\n", &last[..last.len() / 2]));
        // A last line that is whole but lacks its newline is kept.
        let text = std::fs::read_to_string(dir.join(LOG)).unwrap();
        std::fs::write(dir.join(LOG), text.trim_end()).unwrap();
        drop(AuditLog::open(&dir).unwrap());
        assert_eq!(verify(&dir).unwrap().entries, 121);
        // Anything else that is not an entry is still refused.
        let mut text = std::fs::read_to_string(dir.join(LOG)).unwrap();
        text.insert_str(0, "garbage\n");
        std::fs::write(dir.join(LOG), text).unwrap();
        assert!(AuditLog::open(&dir).is_err());
    }

    #[test]
    fn an_intact_trail_verifies_and_reopening_continues_the_chain() {
        let dir = trail("intact", 250);
        let v = verify(&dir).unwrap();
        assert_eq!((v.entries, v.checkpoints), (250, 3));
        let log = AuditLog::open(&dir).unwrap();
        log.write(event(251));
        log.checkpoint().unwrap();
        assert_eq!(verify(&dir).unwrap().entries, 251);
        // Transport events are not decisions.
        log.write(Event {
            t: 1,
            body: EventBody::Healed {
                fault: crate::events::FaultKind::Crash,
                targets: vec![],
            },
        });
        assert_eq!(lines(&dir).len(), 251);
    }

    #[test]
    fn edits_removals_insertions_reorders_and_a_cut_tail_are_named() {
        let dir = trail("tamper", 150);
        let good = lines(&dir);
        let first_bad = |lines: &[String]| {
            write(&dir, lines);
            verify(&dir).unwrap_err()
        };
        let mut edited = good.clone();
        edited[41] = edited[41].replace("\"latency_ms\":42", "\"latency_ms\":43");
        let e = first_bad(&edited);
        assert_eq!(e.line, 42);
        assert!(e.message.contains("entry 42 was edited"), "{e}");

        let mut removed = good.clone();
        removed.remove(9);
        let e = first_bad(&removed);
        assert_eq!(e.line, 10);
        assert!(e.message.contains("removed"), "{e}");

        let mut inserted = good.clone();
        inserted.insert(5, good[20].clone());
        let e = first_bad(&inserted);
        assert_eq!(e.line, 6);

        let mut reordered = good.clone();
        reordered.swap(30, 31);
        let e = first_bad(&reordered);
        assert_eq!(e.line, 31);
        assert!(e.message.contains("reordered"), "{e}");

        let cut = good[..120].to_vec();
        let e = first_bad(&cut);
        assert!(e.message.contains("its tail was cut"), "{e}");
        write(&dir, &good);
        assert!(verify(&dir).is_ok());

        // A trail rewritten with every hash recomputed from entry 42 on still
        // disagrees with the checkpoints taken before.
        let forged = std::env::temp_dir().join(format!("gcif-audit-forged-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&forged);
        let log = AuditLog::open(&forged).unwrap();
        for i in 1..=150 {
            let mut e = event(i);
            if i == 42 {
                e.t = 4242;
            }
            log.write(e);
        }
        drop(log);
        std::fs::copy(dir.join(CHECKPOINTS), forged.join(CHECKPOINTS)).unwrap();
        let e = verify(&forged).unwrap_err();
        assert_eq!(e.line, 100);
        assert!(e.message.contains("rewritten"), "{e}");
    }
}
