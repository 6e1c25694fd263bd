//! The trainer's console: one page, served by the binary itself (assets
//! embedded, nothing fetched), fed by the run's event stream.
//!
//! The console is a sink beside the log ([`Feed`]): every event a host
//! records reaches the page over Server-Sent Events (`/api/events`: the
//! history first, then each new event), with the run's description
//! (`/api/meta`), the clock (`/api/clock`), each message's content as one
//! recipient received it (`/api/message/ID?for=CODE`), and, on a live run,
//! the trainer's controls (`POST /api/control`). A replay serves a finished
//! run directory the same way; the page then plays and scrubs it itself.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use tokio_stream::Stream;

use crate::events::{Event, EventSink};
use crate::host::lock;
use crate::model::{Envelope, Ministry};

const INDEX: &str = include_str!("assets/index.html");
const SCRIPT: &str = include_str!("assets/console.js");
const STYLE: &str = include_str!("assets/console.css");

/// What the page is told about the run before any event.
#[derive(Debug, Clone, Serialize)]
pub struct Meta {
    /// `live` (controls work) or `replay` (the page plays the log itself).
    pub mode: &'static str,
    pub name: String,
    pub title: String,
    /// The run's t=0, Unix milliseconds, and its UTC offset in minutes.
    pub start_ms: i64,
    pub offset_min: i32,
    pub duration_ms: u64,
    pub participants: Vec<Ministry>,
    /// Each participant's role under the agreement (`full`, `observer`…).
    pub roles: BTreeMap<Ministry, String>,
    /// The agreement's first role: the page marks every other.
    pub primary_role: String,
    /// Scheduled injects: when, from whom, and the label.
    pub injects: Vec<InjectMark>,
    /// The replay's default speed.
    pub speed: f64,
    /// The live controls on offer (`pause`, `resume`, `step`, `speed`,
    /// `inject`, `cut`, `heal`); none on a replay.
    pub controls: Vec<&'static str>,
}

/// Each participant's role under `policy`, as the page marks it.
pub fn roles(
    policy: &crate::policy::Policy,
    participants: &[Ministry],
) -> BTreeMap<Ministry, String> {
    participants
        .iter()
        .map(|&m| {
            let role = policy
                .role_of(m)
                .or_else(|| policy.agreement().role_of(m))
                .unwrap_or("not a participant yet");
            (m, role.to_string())
        })
        .collect()
}

/// The role the page does not mark: the agreement's first.
pub fn primary_role(policy: &crate::policy::Policy) -> String {
    policy
        .agreement()
        .roles
        .first()
        .map(|r| r.0.clone())
        .unwrap_or_default()
}

/// Every live control of `run --live`.
pub const ALL_CONTROLS: [&str; 7] = ["pause", "resume", "step", "speed", "inject", "cut", "heal"];

/// One scheduled inject on the timeline.
#[derive(Debug, Clone, Serialize)]
pub struct InjectMark {
    pub t: u64,
    pub from: Ministry,
    pub label: String,
}

/// A trainer's action, as the page posts it.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    Pause,
    Resume,
    /// Move on to the next scheduled inject.
    Step,
    Speed {
        speed: f64,
    },
    /// Send a message improvised on the form: `message` is an inject in the
    /// scenario's keys (YAML or JSON), sent by `from`.
    Inject {
        #[serde(deserialize_with = "crate::model::known_ministry")]
        from: Ministry,
        message: String,
    },
    /// Cut a ministry's link to the hub, or heal it.
    Cut {
        #[serde(deserialize_with = "crate::model::known_ministry")]
        ministry: Ministry,
    },
    Heal {
        #[serde(deserialize_with = "crate::model::known_ministry")]
        ministry: Ministry,
    },
}

/// What carries out the trainer's actions (a live run).
pub trait Controls: Send + Sync {
    /// Carries out `action`; says what it did, or why it could not.
    fn act(&self, action: Action) -> Result<String, String>;
    /// The clock, as the page shows it.
    fn clock(&self) -> serde_json::Value;
}

/// Where the content of a message comes from, per recipient.
pub trait Content: Send + Sync {
    /// The message `id` as `to` received it (the original without `to`).
    fn message(&self, id: &str, to: Option<Ministry>) -> Option<Envelope>;
}

/// The event stream a console shows: kept, and handed to every page.
pub struct Feed {
    history: Mutex<Vec<Event>>,
    live: broadcast::Sender<Event>,
}

impl Default for Feed {
    fn default() -> Self {
        Feed {
            history: Mutex::new(Vec::new()),
            live: broadcast::channel(4096).0,
        }
    }
}

impl Feed {
    /// A feed holding `events` already (a finished run).
    pub fn with(events: Vec<Event>) -> Feed {
        let feed = Feed::default();
        *lock(&feed.history) = events;
        feed
    }
}

impl Feed {
    /// The events so far, and a receiver of every later one.
    fn snapshot(&self) -> (Vec<Event>, broadcast::Receiver<Event>) {
        let h = lock(&self.history);
        (h.clone(), self.live.subscribe())
    }
}

impl EventSink for Feed {
    fn write(&self, event: Event) {
        let mut h = lock(&self.history);
        h.push(event.clone());
        let _ = self.live.send(event);
    }
}

/// Everything the console serves.
#[derive(Clone)]
pub struct Console {
    pub meta: Arc<Meta>,
    pub feed: Arc<Feed>,
    pub content: Arc<dyn Content>,
    pub controls: Option<Arc<dyn Controls>>,
}

/// The console's routes.
pub fn router(console: Console) -> Router {
    Router::new()
        .route(
            "/",
            get(|| async { page(INDEX, "text/html; charset=utf-8") }),
        )
        .route(
            "/console.js",
            get(|| async { page(SCRIPT, "text/javascript; charset=utf-8") }),
        )
        .route(
            "/console.css",
            get(|| async { page(STYLE, "text/css; charset=utf-8") }),
        )
        .route("/api/meta", get(meta))
        .route("/api/events", get(events))
        .route("/api/clock", get(clock))
        .route("/api/message/{id}", get(message))
        .route("/api/control", post(control))
        .with_state(console)
}

fn page(body: &'static str, kind: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

async fn meta(State(c): State<Console>) -> impl IntoResponse {
    axum::Json((*c.meta).clone())
}

async fn clock(State(c): State<Console>) -> impl IntoResponse {
    match &c.controls {
        Some(ctl) => axum::Json(ctl.clock()).into_response(),
        None => axum::Json(serde_json::json!({"replay": true})).into_response(),
    }
}

/// The history, then each event as it happens, one SSE `message` each
/// (and one `caught_up` between them).
async fn events(State(c): State<Console>) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<SseEvent, Infallible>>(1024);
    let feed = c.feed.clone();
    tokio::spawn(async move {
        // Copy the history and subscribe under one lock: no event is missed
        // or seen twice.
        let (history, mut live) = feed.snapshot();
        let mut count = history.len();
        for e in &history {
            if tx.send(Ok(sse(e))).await.is_err() {
                return;
            }
        }
        let caught_up = SseEvent::default()
            .event("caught_up")
            .data(count.to_string());
        if tx.send(Ok(caught_up)).await.is_err() {
            return;
        }
        loop {
            match live.recv().await {
                Ok(e) => {
                    count += 1;
                    if tx.send(Ok(sse(&e))).await.is_err() {
                        return;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    // A page too slow for the stream: resend what it missed.
                    let (history, again) = feed.snapshot();
                    for e in history.iter().skip(count) {
                        if tx.send(Ok(sse(e))).await.is_err() {
                            return;
                        }
                    }
                    count = history.len();
                    live = again;
                }
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    });
    Sse::new(tokio_stream::wrappers::ReceiverStream::new(rx)).keep_alive(KeepAlive::default())
}

fn sse(e: &Event) -> SseEvent {
    SseEvent::default().data(serde_json::to_string(e).unwrap_or_default())
}

/// `?for=CODE`: a code looked up among the participants, never declared
/// (a request cannot grow the process's code registry).
#[derive(Deserialize)]
struct For {
    #[serde(rename = "for")]
    to: Option<String>,
}

async fn message(
    State(c): State<Console>,
    Path(id): Path<String>,
    Query(f): Query<For>,
) -> Response {
    let to = match f.to.as_deref().map(str::parse::<Ministry>) {
        None => None,
        Some(Ok(m)) => Some(m),
        Some(Err(e)) => return (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    };
    match c.content.message(&id, to) {
        Some(env) => axum::Json(env).into_response(),
        None => (StatusCode::NOT_FOUND, format!("no message {id}")).into_response(),
    }
}

async fn control(State(c): State<Console>, axum::Json(action): axum::Json<Action>) -> Response {
    let Some(ctl) = &c.controls else {
        return (
            StatusCode::CONFLICT,
            "a replay has no live controls".to_string(),
        )
            .into_response();
    };
    match ctl.act(action) {
        Ok(done) => axum::Json(serde_json::json!({"ok": true, "done": done})).into_response(),
        Err(why) => (StatusCode::UNPROCESSABLE_ENTITY, why).into_response(),
    }
}

/// Serves `console` on `listener` until `stop` resolves.
pub async fn serve(
    console: Console,
    listener: tokio::net::TcpListener,
    stop: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(console))
        .with_graceful_shutdown(stop)
        .await
}

/// The messages of a finished run, from its `messages.jsonl`.
pub struct RunContent {
    messages: BTreeMap<String, crate::report::rundir::Message>,
}

impl Content for RunContent {
    fn message(&self, id: &str, to: Option<Ministry>) -> Option<Envelope> {
        let m = self.messages.get(id)?;
        Some(
            to.and_then(|to| m.copies.get(&to))
                .map_or_else(|| Envelope::clone(&m.envelope), |c| Envelope::clone(c)),
        )
    }
}

/// The console of a finished run directory: its log to play and scrub,
/// its messages, no controls.
pub fn replay(run: &crate::report::RunDir, speed: f64) -> Console {
    let s = &run.summary;
    let start = chrono::DateTime::parse_from_rfc3339(&s.start).ok();
    let policy = match &run.scenario {
        Some(scenario) => scenario.policy.clone(),
        None => crate::policy::Policy::compact_2019(crate::model::Status::Exercise),
    };
    let injects = run
        .messages
        .iter()
        .filter(|m| m.inject.is_some())
        .map(|m| InjectMark {
            t: m.at_t,
            from: m.envelope.originator,
            label: m.label.clone().unwrap_or_else(|| m.msg.0.clone()),
        })
        .collect();
    let meta = Meta {
        mode: "replay",
        name: s.scenario.clone(),
        title: s.title.clone(),
        start_ms: start.map_or(0, |d| d.timestamp_millis()),
        offset_min: start.map_or(0, |d| d.offset().local_minus_utc() / 60),
        duration_ms: s.duration_ms.max(s.end_ms),
        participants: s.participants.clone(),
        roles: roles(&policy, &s.participants),
        primary_role: primary_role(&policy),
        injects,
        speed,
        controls: Vec::new(),
    };
    Console {
        meta: Arc::new(meta),
        feed: Arc::new(Feed::with(run.events.clone())),
        content: Arc::new(RunContent {
            messages: run
                .messages
                .iter()
                .map(|m| (m.msg.0.clone(), m.clone()))
                .collect(),
        }),
        controls: None,
    }
}
