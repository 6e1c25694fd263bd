//! Live processes for tests: `gcif-sim` (or Python) children on loopback,
//! their output read line by line, waited on with a bound, and stopped —
//! SIGTERM, then SIGKILL — when dropped, so no test leaves one behind.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

/// One line a child wrote, and on which stream.
#[derive(Debug, Clone)]
pub struct Line {
    pub stderr: bool,
    pub text: String,
}

/// A running child, with everything it has written so far.
pub struct Proc {
    pub name: String,
    child: Option<Child>,
    lines: Receiver<Line>,
    pub seen: Vec<Line>,
}

impl Proc {
    /// Starts `program` with `args`, reading its standard output and error.
    pub fn start(name: &str, program: &str, args: &[&str]) -> Proc {
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name} ({program}): {e}"));
        let (tx, rx) = channel();
        let out = child.stdout.take().expect("piped");
        let err = child.stderr.take().expect("piped");
        for (stream, stderr) in [
            (Box::new(out) as Box<dyn std::io::Read + Send>, false),
            (Box::new(err), true),
        ] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    if tx.send(Line { stderr, text: line }).is_err() {
                        break;
                    }
                }
            });
        }
        Proc {
            name: name.into(),
            child: Some(child),
            lines: rx,
            seen: Vec::new(),
        }
    }

    /// `gcif-sim` with `args`.
    pub fn gcif(name: &str, args: &[&str]) -> Proc {
        Proc::start(name, env!("CARGO_BIN_EXE_gcif-sim"), args)
    }

    /// Waits (at most `within`) for a line for which `f` gives a value.
    pub fn wait_for<T>(
        &mut self,
        within: Duration,
        what: &str,
        f: impl Fn(&Line) -> Option<T>,
    ) -> T {
        if let Some(v) = self.seen.iter().find_map(&f) {
            return v;
        }
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let v = f(&line);
                    self.seen.push(line);
                    if let Some(v) = v {
                        return v;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    panic!(
                        "{}: no {what} within {within:?}; it wrote:\n{}",
                        self.name,
                        self.transcript()
                    )
                }
                Err(RecvTimeoutError::Disconnected) => {
                    panic!(
                        "{}: exited before {what}; it wrote:\n{}",
                        self.name,
                        self.transcript()
                    )
                }
            }
        }
    }

    /// Takes in what the child has written so far, without waiting.
    pub fn drain(&mut self) {
        while let Ok(line) = self.lines.try_recv() {
            self.seen.push(line);
        }
    }

    /// Lines of standard output so far.
    pub fn stdout(&mut self) -> Vec<String> {
        self.drain();
        self.seen
            .iter()
            .filter(|l| !l.stderr)
            .map(|l| l.text.clone())
            .collect()
    }

    pub fn transcript(&self) -> String {
        self.seen
            .iter()
            .map(|l| format!("{} {}", if l.stderr { "E|" } else { "O|" }, l.text))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Sends SIGTERM and waits (bounded) for the exit code.
    pub fn terminate(&mut self) -> i32 {
        let Some(mut child) = self.child.take() else {
            return -1;
        };
        // SAFETY: kill(2) on our own child's pid, with a valid signal.
        unsafe {
            libc::kill(child.id() as i32, libc::SIGTERM);
        }
        let code = wait_bounded(&mut child, Duration::from_secs(20), &self.name);
        self.drain();
        code
    }

    /// Kills the child with SIGKILL (no chance to clean up) and reaps it;
    /// what it wrote before is kept in `seen`.
    pub fn kill9(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = child.kill();
        let _ = wait_bounded(&mut child, Duration::from_secs(20), &self.name);
        // Everything it wrote is still in the pipes: read to their end.
        let deadline = Instant::now() + Duration::from_secs(5);
        while let Ok(line) = self
            .lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            self.seen.push(line);
        }
    }

    /// Waits (bounded) for the child to exit by itself.
    pub fn wait(&mut self, within: Duration) -> i32 {
        let mut child = self.child.take().expect("still running");
        let code = wait_bounded(&mut child, within, &self.name);
        // The reader threads end with the pipes; collect what is left.
        let deadline = Instant::now() + Duration::from_secs(5);
        while let Ok(line) = self
            .lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            self.seen.push(line);
        }
        code
    }
}

fn wait_bounded(child: &mut Child, within: Duration, name: &str) -> i32 {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().expect("waitable") {
            return status.code().unwrap_or(-1);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{name} did not exit within {within:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            unsafe {
                libc::kill(child.id() as i32, libc::SIGTERM);
            }
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The `host:port` after `marker` in a line (e.g. "serving gcif.v1.Hub on ").
pub fn addr_after(line: &Line, marker: &str) -> Option<String> {
    let rest = line.text.split_once(marker)?.1;
    let addr: String = rest
        .trim_start_matches("http://")
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '[' | ']'))
        .collect();
    (!addr.is_empty()).then_some(addr)
}

/// A fresh scratch directory under target/.
pub fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// A plain HTTP/1.1 GET on loopback: (status, body); `None` if the exchange
/// failed (the caller retries, within its bound).
pub fn try_http_get(addr: &str, path: &str) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())?;
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Some((status, body))
}

/// [`try_http_get`], retried for up to 30 s.
pub fn http_get(addr: &str, path: &str) -> (u16, String) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(answer) = try_http_get(addr, path) {
            return answer;
        }
        assert!(
            Instant::now() < deadline,
            "GET http://{addr}{path} kept failing"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A plain HTTP/1.1 POST of a JSON body on loopback: (status, body).
pub fn http_post(addr: &str, path: &str, json: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).expect("http connect");
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{json}",
        json.len()
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).expect("http response");
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}
