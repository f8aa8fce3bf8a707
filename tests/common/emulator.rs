//! The `hls-sign serve` emulator as a child process, and a plain HTTP/1.1
//! client for it (loopback only, bounded reads).

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A running emulator; its access log is collected for assertions.
pub struct EmulatorProcess {
    child: Child,
    /// `http://127.0.0.1:port`
    pub base: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl Drop for EmulatorProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl EmulatorProcess {
    /// Starts `hls-sign serve --listen 127.0.0.1:0 ARGS…` in `dir` and waits
    /// for its `listening on` line.
    pub fn start(dir: &Path, args: &[&str]) -> EmulatorProcess {
        let mut all = vec!["serve", "--listen", "127.0.0.1:0"];
        all.extend(args);
        Self::spawn(dir, &all)
    }

    /// `hls-sign ARGS…` (a server that prints `listening on URL` first);
    /// `base` is that URL.
    pub fn spawn(dir: &Path, args: &[&str]) -> EmulatorProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_hls-sign"))
            .args(args)
            .current_dir(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start hls-sign serve");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = lines.next().expect("emulator output").unwrap();
        let base = first
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line: {first}"))
            .to_owned();
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        EmulatorProcess { child, base, log }
    }

    /// `127.0.0.1:port`: the "distribution" host signatures are made for.
    pub fn host(&self) -> &str {
        self.base.trim_start_matches("http://")
    }

    pub fn log_lines(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}

/// A response: status, headers (lowercase names), body.
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

/// GET `url` (plain HTTP on loopback) with extra request headers.
pub fn get_with(url: &str, headers: &[(&str, &str)]) -> Answer {
    request("GET", url, headers)
}

/// GET `url` with no extra headers: (status, body).
pub fn get(url: &str) -> (u16, String) {
    let answer = get_with(url, &[]);
    (answer.status, answer.body)
}

/// One HTTP/1.1 request; the target is sent exactly as written.
pub fn request(method: &str, url: &str, headers: &[(&str, &str)]) -> Answer {
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let mut stream = std::net::TcpStream::connect(host).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let text = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    let headers = head
        .lines()
        .skip(1)
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Answer {
        status,
        headers,
        body: body.to_owned(),
    }
}

/// The `<Code>` of CloudFront's XML error body.
pub fn code_of(body: &str) -> &str {
    body.split("<Code>")
        .nth(1)
        .and_then(|b| b.split("</Code>").next())
        .unwrap_or("")
}
