//! The durable journal of a live hub or node (`--data DIR`), in redb.
//!
//! One writer thread owns the database. Hosts hand it writes ([`Store::put`],
//! [`Store::delete`]) without waiting, and wait only where an answer depends
//! on durability ([`Store::synced`]): the hub before it answers a publish,
//! a node before it acknowledges a delivery. The writer takes every write
//! queued while the previous commit was syncing into the next transaction
//! (group commit), and each commit is `Durability::Immediate`: fsynced
//! before `synced` resolves. So a receipt or an acknowledgement always
//! follows the fsync of what it vouches for, and a burst of N concurrent
//! calls costs one or a few fsyncs, not N.
//!
//! Tables hold text keys and JSON values, so the files' meaning does not
//! depend on a Rust layout: `hub.redb` has `messages` (id → the accepted
//! message with its recipients and reshares, and its acceptance order),
//! `ended` (`id\tCODE` → how delivery ended) and `registered` (code →
//! address); `node.redb` has `inbox` (id → the message as received) and
//! `outbox` (id → a message not yet answered by the hub).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use redb::{Database, ReadableTable, TableDefinition};

type Table = TableDefinition<'static, &'static str, &'static str>;

/// Why a store cannot be opened or written.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{path}: {message}")]
pub struct StoreError {
    pub path: String,
    pub message: String,
}

enum Op {
    Put(&'static str, String, String),
    Delete(&'static str, String),
    Barrier(tokio::sync::oneshot::Sender<Result<(), String>>),
}

/// A redb database with its writer thread; see the module docs.
pub struct Store {
    tx: std::sync::Mutex<mpsc::Sender<Op>>,
    path: PathBuf,
    writer: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Store({})", self.path.display())
    }
}

/// Every table's rows, as read when the store was opened.
pub type Snapshot = BTreeMap<&'static str, Vec<(String, String)>>;

impl Store {
    /// Opens (or creates) `dir/file` with `tables`, reads every row, and
    /// starts the writer.
    pub fn open(
        dir: &Path,
        file: &str,
        tables: &'static [&'static str],
    ) -> Result<(Store, Snapshot), StoreError> {
        let path = dir.join(file);
        let err = |e: &dyn std::fmt::Display| StoreError {
            path: path.display().to_string(),
            message: e.to_string(),
        };
        std::fs::create_dir_all(dir).map_err(|e| err(&e))?;
        let db = Database::create(&path).map_err(|e| err(&e))?;
        let mut snapshot = Snapshot::new();
        {
            // Create every table, so a read of a new store finds them.
            let w = db.begin_write().map_err(|e| err(&e))?;
            for t in tables {
                w.open_table(Table::new(t)).map_err(|e| err(&e))?;
            }
            w.commit().map_err(|e| err(&e))?;
            let r = db.begin_read().map_err(|e| err(&e))?;
            for t in tables {
                let table = r.open_table(Table::new(t)).map_err(|e| err(&e))?;
                let rows = table
                    .iter()
                    .map_err(|e| err(&e))?
                    .map(|row| {
                        let (k, v) = row.map_err(|e| err(&e))?;
                        Ok((k.value().to_string(), v.value().to_string()))
                    })
                    .collect::<Result<Vec<_>, StoreError>>()?;
                snapshot.insert(*t, rows);
            }
        }
        let (tx, rx) = mpsc::channel();
        let shown = path.display().to_string();
        let writer = std::thread::Builder::new()
            .name(format!("store {file}"))
            .spawn(move || write_loop(db, rx, shown))
            .map_err(|e| err(&e))?;
        Ok((
            Store {
                tx: std::sync::Mutex::new(tx),
                path,
                writer: Some(writer),
            },
            snapshot,
        ))
    }

    fn send(&self, op: Op) {
        let tx = self.tx.lock().unwrap_or_else(|e| e.into_inner());
        // The writer only stops when the store is dropped.
        let _ = tx.send(op);
    }

    /// Writes `value` under `key` in `table`, with the next commit.
    pub fn put(&self, table: &'static str, key: String, value: String) {
        self.send(Op::Put(table, key, value));
    }

    /// Removes `key` from `table`, with the next commit.
    pub fn delete(&self, table: &'static str, key: String) {
        self.send(Op::Delete(table, key));
    }

    /// Resolves once everything written before is committed and synced to
    /// disk; the error if the commit failed.
    pub async fn synced(&self) -> Result<(), String> {
        let (done, wait) = tokio::sync::oneshot::channel();
        self.send(Op::Barrier(done));
        wait.await
            .unwrap_or_else(|_| Err("the store's writer stopped".into()))
    }

    /// Where the database is.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        // Closing the channel ends the writer after its last commit.
        let (dead, _) = mpsc::channel();
        drop(std::mem::replace(
            &mut *self.tx.lock().unwrap_or_else(|e| e.into_inner()),
            dead,
        ));
        if let Some(w) = self.writer.take() {
            let _ = w.join();
        }
    }
}

/// A commit that failed loses its batch's writes, so the store stays failed
/// from then on: every later `synced` is refused too, and the process must
/// be restarted (it then reads back what did reach the disk, and whatever
/// was never confirmed is sent again by its senders). Otherwise a later
/// commit would confirm a write that was lost.
fn write_loop(db: Database, rx: mpsc::Receiver<Op>, path: String) {
    let mut failed: Option<String> = None;
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        batch.extend(rx.try_iter());
        let writes = batch.iter().any(|op| !matches!(op, Op::Barrier(_)));
        let result = match &failed {
            Some(e) => Err(e.clone()),
            None if writes => commit(&db, &batch).map_err(|e| format!("{path}: {e}")),
            None => Ok(()),
        };
        if let (Err(e), None) = (&result, &failed) {
            tracing::error!(e, "the durable store could not commit; restart the process");
            failed = Some(format!(
                "{e} (the store stopped at its first failed commit)"
            ));
        }
        for op in batch {
            if let Op::Barrier(done) = op {
                let _ = done.send(result.clone());
            }
        }
    }
}

fn commit(db: &Database, batch: &[Op]) -> Result<(), Box<dyn std::error::Error>> {
    let txn = db.begin_write()?;
    {
        let mut open: BTreeMap<&str, redb::Table<&str, &str>> = BTreeMap::new();
        for op in batch {
            let name = match op {
                Op::Put(t, ..) | Op::Delete(t, _) => *t,
                Op::Barrier(_) => continue,
            };
            if !open.contains_key(name) {
                open.insert(name, txn.open_table(Table::new(name))?);
            }
            let table = open.get_mut(name).expect("just opened");
            match op {
                Op::Put(_, k, v) => {
                    table.insert(k.as_str(), v.as_str())?;
                }
                Op::Delete(_, k) => {
                    table.remove(k.as_str())?;
                }
                Op::Barrier(_) => {}
            }
        }
    }
    txn.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn what_was_synced_is_read_back_after_reopening() {
        let dir = std::env::temp_dir().join(format!("gcif-store-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        const TABLES: &[&str] = &["a", "b"];
        {
            let (store, snap) = Store::open(&dir, "t.redb", TABLES).unwrap();
            assert!(snap["a"].is_empty() && snap["b"].is_empty());
            store.put("a", "k1".into(), "v1".into());
            store.put("a", "k2".into(), "v2".into());
            store.put("b", "x".into(), "y".into());
            store.delete("a", "k1".into());
            store.synced().await.unwrap();
        }
        let (_store, snap) = Store::open(&dir, "t.redb", TABLES).unwrap();
        assert_eq!(snap["a"], [("k2".to_string(), "v2".to_string())]);
        assert_eq!(snap["b"], [("x".to_string(), "y".to_string())]);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// The hub's journal: every accepted message until its last recipient
/// acknowledged, how each delivery ended, and where each node registered.
#[derive(Debug)]
pub struct HubJournal {
    store: Store,
    /// Acceptance order of each message id, and the next.
    order: std::sync::Mutex<(u64, BTreeMap<crate::model::MessageId, u64>)>,
}

/// What a hub's journal held when it was opened.
#[derive(Debug, Default)]
pub struct HubRestored {
    /// The accepted messages in acceptance order, each with how its
    /// deliveries ended so far.
    pub messages: Vec<(
        crate::hub::Kept,
        BTreeMap<crate::model::Ministry, crate::hub::Ended>,
    )>,
    /// The last address each ministry registered.
    pub registered: Vec<(crate::model::Ministry, String)>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Row {
    seq: u64,
    #[serde(flatten)]
    kept: crate::hub::Kept,
}

impl HubJournal {
    /// The file in the hub's data directory.
    pub const FILE: &'static str = "hub.redb";
    const TABLES: &'static [&'static str] = &["messages", "ended", "registered"];

    /// Opens the journal in `dir` and reads back what it holds.
    pub fn open(dir: &Path) -> Result<(HubJournal, HubRestored), StoreError> {
        let (store, snap) = Store::open(dir, Self::FILE, Self::TABLES)?;
        let bad = |key: &str, e: &dyn std::fmt::Display| StoreError {
            path: store.path().display().to_string(),
            message: format!("row {key:?}: {e}"),
        };
        let mut rows = Vec::new();
        for (key, value) in &snap["messages"] {
            let row: Row = serde_json::from_str(value).map_err(|e| bad(key, &e))?;
            rows.push(row);
        }
        rows.sort_by_key(|r| r.seq);
        let mut ended: BTreeMap<String, BTreeMap<crate::model::Ministry, crate::hub::Ended>> =
            BTreeMap::new();
        for (key, value) in &snap["ended"] {
            let (id, code) = key.split_once('\t').ok_or_else(|| bad(key, &"no tab"))?;
            let to: crate::model::Ministry =
                crate::model::Ministry::declare(code, None).map_err(|e| bad(key, &e))?;
            let e: crate::hub::Ended = serde_json::from_str(value).map_err(|e| bad(key, &e))?;
            ended.entry(id.to_string()).or_default().insert(to, e);
        }
        let mut registered = Vec::new();
        for (code, address) in &snap["registered"] {
            let m = crate::model::Ministry::declare(code, None).map_err(|e| bad(code, &e))?;
            registered.push((m, address.clone()));
        }
        let next = rows.last().map_or(0, |r| r.seq + 1);
        let order = rows
            .iter()
            .map(|r| (r.kept.envelope.id.clone(), r.seq))
            .collect();
        let messages = rows
            .into_iter()
            .map(|r| {
                let e = ended.remove(&r.kept.envelope.id.0).unwrap_or_default();
                (r.kept, e)
            })
            .collect();
        Ok((
            HubJournal {
                store,
                order: std::sync::Mutex::new((next, order)),
            },
            HubRestored {
                messages,
                registered,
            },
        ))
    }

    /// Keeps `kept` (a new message, or one passed on again).
    pub fn accepted(&self, kept: &crate::hub::Kept) {
        let seq = {
            let mut o = self.order.lock().unwrap_or_else(|e| e.into_inner());
            let (next, order) = &mut *o;
            *order.entry(kept.envelope.id.clone()).or_insert_with(|| {
                *next += 1;
                *next - 1
            })
        };
        let row = serde_json::to_string(&Row {
            seq,
            kept: kept.clone(),
        })
        .expect("a journal row serializes");
        self.store.put("messages", kept.envelope.id.0.clone(), row);
    }

    /// Delivery of `id` to `to` ended.
    pub fn ended(
        &self,
        id: &crate::model::MessageId,
        to: crate::model::Ministry,
        e: &crate::hub::Ended,
    ) {
        let value = serde_json::to_string(e).expect("an end serializes");
        self.store
            .put("ended", format!("{}\t{}", id.0, to.code()), value);
    }

    /// `m` registered `address`.
    pub fn registered(&self, m: crate::model::Ministry, address: &str) {
        self.store
            .put("registered", m.code().to_string(), address.to_string());
    }

    /// See [`Store::synced`].
    pub async fn synced(&self) -> Result<(), String> {
        self.store.synced().await
    }
}

/// A node's journal: what it processed (its inbox, the de-duplication set)
/// and what it has yet to hear the hub answer for (its outbox).
#[derive(Debug)]
pub struct NodeJournal {
    store: Store,
}

impl NodeJournal {
    /// The file in the node's data directory.
    pub const FILE: &'static str = "node.redb";
    const TABLES: &'static [&'static str] = &["inbox", "outbox"];

    /// Opens the journal in `dir`: the messages received, then those still
    /// to publish.
    #[allow(clippy::type_complexity)]
    pub fn open(
        dir: &Path,
    ) -> Result<
        (
            NodeJournal,
            Vec<crate::node::Received>,
            Vec<crate::model::Envelope>,
        ),
        StoreError,
    > {
        let (store, snap) = Store::open(dir, Self::FILE, Self::TABLES)?;
        let bad = |key: &str, e: &dyn std::fmt::Display| StoreError {
            path: store.path().display().to_string(),
            message: format!("row {key:?}: {e}"),
        };
        let inbox = snap["inbox"]
            .iter()
            .map(|(k, v)| serde_json::from_str(v).map_err(|e| bad(k, &e)))
            .collect::<Result<Vec<_>, _>>()?;
        let outbox = snap["outbox"]
            .iter()
            .map(|(k, v)| serde_json::from_str(v).map_err(|e| bad(k, &e)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok((NodeJournal { store }, inbox, outbox))
    }

    /// The node processed `r` (before it acknowledges it).
    pub fn processed(&self, r: &crate::node::Received) {
        let value = serde_json::to_string(r).expect("a message serializes");
        self.store.put("inbox", r.envelope.id.0.clone(), value);
    }

    /// `e` is to be published.
    pub fn queued(&self, e: &crate::model::Envelope) {
        let value = serde_json::to_string(e).expect("a message serializes");
        self.store.put("outbox", e.id.0.clone(), value);
    }

    /// The hub answered for `id` for good.
    pub fn answered(&self, id: &crate::model::MessageId) {
        self.store.delete("outbox", id.0.clone());
    }

    /// See [`Store::synced`].
    pub async fn synced(&self) -> Result<(), String> {
        self.store.synced().await
    }
}
