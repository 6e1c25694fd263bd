//! Calls and connections in the message-level model: the rules of the
//! module above, for one call from start to end.

use std::time::Duration;

use super::{Ev, Model, Us, us};
use crate::host::{Acked, Transmission};
use crate::hub::Delivery;
use crate::model::{Caller, Host, Ministry};
use crate::node::{Publish, Reshare};
use crate::transport;

/// One connection from a client to a server.
pub(super) struct Conn {
    client: Host,
    server: Host,
    /// The handshake completed.
    ready: bool,
    /// The handshake is (or will be) refused.
    refused: bool,
    /// Calls waiting for the handshake.
    waiting: Vec<u64>,
    /// Calls whose request was sent and that have not ended.
    inflight: Vec<u64>,
    /// Arrival of the last request / answer, to keep each direction in order.
    up_last: Us,
    down_last: Us,
    /// From these instants the client's / server's end is reset.
    client_reset: Option<Us>,
    server_reset: Option<Us>,
    /// The server's incarnation it was accepted by.
    server_epoch: u32,
}

/// What a call carries, and the server's answer once it has one.
pub(super) enum What {
    Publish(Publish, Option<Transmission<Vec<Ministry>>>),
    Reshare(Reshare, Option<Transmission<()>>),
    Deliver(Delivery, Option<Transmission<Acked>>),
}

pub(super) struct Call {
    client: Host,
    server: Host,
    epoch: u32,
    conn: usize,
    what: What,
    /// The client has been told how it ended.
    done: bool,
    /// The request left (so a `Request` event is queued).
    sent: bool,
    /// The request reached the server (or was lost on the way).
    arrived: bool,
}

/// How a call failed, as its client sees it.
#[derive(Clone, Copy)]
pub(super) enum Fail {
    Deadline,
    Unreachable,
}

fn outcome<A>(fail: Option<Fail>, reply: &mut Option<Transmission<A>>) -> Transmission<A> {
    match fail {
        Some(Fail::Deadline) => transport::deadline_outcome(),
        Some(Fail::Unreachable) => transport::unreachable_outcome(),
        None => reply.take().unwrap_or_else(transport::unreachable_outcome),
    }
}

fn caller(host: Host) -> Caller {
    match host {
        Host::Hub => Caller::Hub,
        Host::Node(m) => Caller::Ministry(m),
    }
}

impl Model<'_> {
    pub(super) fn start_call(&mut self, client: Host, server: Host, what: What) {
        let now = self.now;
        let usable = |c: &Conn| !c.refused && c.client_reset.is_none_or(|r| r > now);
        let conn = match self.chans.get(&(client, server)).copied() {
            Some(c) if usable(&self.conns[c]) => c,
            _ => {
                let c = self.open(client, server);
                self.chans.insert((client, server), c);
                c
            }
        };
        let id = self.next_call;
        self.next_call += 1;
        let epoch = self.slot(client).epoch;
        self.calls.insert(
            id,
            Call {
                client,
                server,
                epoch,
                conn,
                what,
                done: false,
                sent: false,
                arrived: false,
            },
        );
        self.push(now + self.timeout, Ev::Deadline(id));
        if self.conns[conn].ready {
            self.send(id);
        } else {
            self.conns[conn].waiting.push(id);
        }
    }

    /// Starts a connection's handshake: a round trip.
    fn open(&mut self, client: Host, server: Host) -> usize {
        let there = self
            .links
            .arrival(client, server, Duration::from_micros(self.now));
        let back = self.links.arrival(server, client, there);
        let refused = self
            .links
            .partitioned(client, server, Duration::from_micros(self.now));
        self.conns.push(Conn {
            client,
            server,
            ready: false,
            refused,
            waiting: Vec::new(),
            inflight: Vec::new(),
            up_last: 0,
            down_last: 0,
            client_reset: None,
            server_reset: None,
            server_epoch: 0,
        });
        let c = self.conns.len() - 1;
        self.push(us(back), Ev::Connected(c));
        c
    }

    pub(super) fn connected(&mut self, c: usize) {
        let server = self.conns[c].server;
        let (up, epoch) = {
            let s = self.slot(server);
            (s.up, s.epoch)
        };
        let waiting = std::mem::take(&mut self.conns[c].waiting);
        let conn = &mut self.conns[c];
        if conn.refused || !up {
            conn.refused = true;
            for id in waiting {
                self.end_call(id, Some(Fail::Unreachable));
            }
        } else {
            conn.ready = true;
            conn.server_epoch = epoch;
            for id in waiting {
                self.send(id);
            }
        }
    }

    /// Sends a call's request on its (open) connection.
    fn send(&mut self, id: u64) {
        let now = self.now;
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        if call.done {
            self.calls.remove(&id);
            return;
        }
        call.sent = true;
        let (client, server, c) = (call.client, call.server, call.conn);
        let at = us(self
            .links
            .arrival(client, server, Duration::from_micros(now)));
        let conn = &mut self.conns[c];
        let at = at.max(conn.up_last);
        conn.up_last = at;
        conn.inflight.push(id);
        let reset = conn.client_reset;
        self.push(at, Ev::Request(id));
        if let Some(r) = reset {
            self.push(r.max(now), Ev::Reset(id));
        }
    }

    /// A request reaches its server, which handles it unless its end of the
    /// connection is reset (or it is another incarnation by now).
    pub(super) fn request(&mut self, id: u64) {
        let now = self.now;
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        call.arrived = true;
        let (client, server, c, call_epoch) = (call.client, call.server, call.conn, call.epoch);
        let conn = &self.conns[c];
        let slot = &self.hosts[&server];
        let lost = conn.server_reset.is_some_and(|r| r <= now)
            || !slot.up
            || slot.epoch != conn.server_epoch;
        if !lost {
            self.serve(id);
            // What the server was handed may have queued work for it.
            self.wake(server);
        }
        let client_gone = self.hosts[&client].epoch != call_epoch;
        let done = self.calls.get(&id).is_none_or(|c| c.done);
        if lost || done || client_gone {
            // Nobody waits for this answer: a reset or the deadline ends the
            // call, if it has not ended yet.
            if done || client_gone {
                self.calls.remove(&id);
            }
            return;
        }
        let at = us(self
            .links
            .arrival(server, client, Duration::from_micros(now)));
        let conn = &mut self.conns[c];
        let at = at.max(conn.down_last);
        conn.down_last = at;
        self.push(at, Ev::Response(id));
    }

    /// The server handles a call, as its gRPC service would.
    fn serve(&mut self, id: u64) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let who = caller(call.client);
        match &mut call.what {
            What::Publish(p, reply) => {
                let e = &p.envelope;
                *reply = Some(
                    match self.hub.authorise(&who, e.originator, "Publish", &e.id.0) {
                        Err(reason) => transport::denied_outcome(reason),
                        Ok(()) => match self.hub.on_publish(e.clone(), p.attempt) {
                            Ok(published) => Transmission::Answered(published.recipients),
                            Err(refusal) => transport::refusal_outcome(refusal),
                        },
                    },
                );
            }
            What::Reshare(r, reply) => {
                let Host::Node(by) = call.client else {
                    return;
                };
                let (msg, to) = (&r.pass_on.id, r.pass_on.to);
                *reply = Some(match self.hub.authorise(&who, by, "Reshare", &msg.0) {
                    Err(reason) => transport::denied_outcome(reason),
                    Ok(()) => match self.hub.on_reshare(msg, by, to) {
                        Ok(_) => Transmission::Answered(()),
                        Err(refusal) => transport::refusal_outcome(refusal),
                    },
                });
            }
            What::Deliver(d, reply) => {
                let node = &self.nodes[&d.to];
                *reply = Some(match node.authorise_delivery(&Caller::Hub) {
                    Err(reason) => transport::denied_outcome(reason),
                    Ok(()) => match node.on_deliver(d.to.code(), d.envelope.clone(), d.attempt) {
                        Ok(delivered) => {
                            let duplicate = delivered.duplicate;
                            node.settle_now(delivered);
                            Transmission::Answered(Acked { duplicate })
                        }
                        Err(reason) => transport::invalid_outcome(reason),
                    },
                });
            }
        }
    }

    /// An answer reaches its client, unless the connection reset first.
    pub(super) fn response(&mut self, id: u64) {
        let now = self.now;
        let Some(call) = self.calls.get(&id) else {
            return;
        };
        let reset = self.conns[call.conn].client_reset.is_some_and(|r| r <= now);
        self.end_call(id, reset.then_some(Fail::Unreachable));
    }

    /// Ends call `id` for its client: with its answer, or as `fail`.
    pub(super) fn end_call(&mut self, id: u64, fail: Option<Fail>) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        if call.done {
            return;
        }
        if self.hosts[&call.client].epoch != call.epoch {
            // The client crashed since: nobody is told.
            call.done = true;
            if call.arrived || !call.sent {
                self.calls.remove(&id);
            }
            return;
        }
        call.done = true;
        let (client, server, c) = (call.client, call.server, call.conn);
        self.conns[c].inflight.retain(|&x| x != id);
        let failed = match &mut call.what {
            What::Publish(p, reply) => {
                let t = outcome(fail, reply);
                let failed = matches!(t, Transmission::Failed(_));
                if let Host::Node(m) = client {
                    self.nodes[&m].on_publish(p, t);
                }
                failed
            }
            What::Reshare(r, reply) => {
                let t = outcome(fail, reply);
                let failed = matches!(t, Transmission::Failed(_));
                if let Host::Node(m) = client {
                    self.nodes[&m].on_reshare(r, t);
                }
                failed
            }
            What::Deliver(d, reply) => {
                let t = outcome(fail, reply);
                let failed = matches!(t, Transmission::Failed(_));
                self.hub.on_delivery(d, t);
                failed
            }
        };
        if call.arrived || !call.sent {
            self.calls.remove(&id);
        }
        if failed && self.chans.get(&(client, server)) == Some(&c) {
            self.chans.remove(&(client, server));
        }
        self.wake(client);
    }

    /// `h` crashes: it stops, and its connections reset.
    pub(super) fn crash(&mut self, h: Host) {
        let slot = self.slot(h);
        slot.crashes += 1;
        if slot.crashes > 1 {
            return;
        }
        slot.up = false;
        slot.epoch += 1;
        slot.timer = None;
        slot.woken = false;
        self.chans.retain(|(client, _), _| *client != h);
        let now = self.now;
        let mut resets = Vec::new();
        for conn in &mut self.conns {
            let open = !conn.refused && conn.client_reset.is_none();
            if !open || (conn.client != h && conn.server != h) {
                continue;
            }
            if !conn.ready {
                // Crashed mid-handshake: it will not complete.
                conn.refused = true;
                continue;
            }
            let peer = if conn.client == h {
                conn.server
            } else {
                conn.client
            };
            let reaches = us(self.links.arrival(h, peer, Duration::from_micros(now)));
            if conn.client == h {
                conn.client_reset = Some(now);
                conn.server_reset = Some(reaches);
            } else {
                conn.server_reset = Some(now);
                conn.client_reset = Some(reaches);
                resets.extend(conn.inflight.iter().map(|&id| (reaches, id)));
            }
        }
        for (at, id) in resets {
            self.push(at, Ev::Reset(id));
        }
    }
}
