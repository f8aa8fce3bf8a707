//! A real HTTP/1.1 origin on loopback for the handler's origin tests: each
//! route behaves like one kind of origin (healthy, missing, failing, slow,
//! oversized, redirecting, revalidating).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub struct HttpOrigin {
    pub base: String,
    /// Requests served, per route kind, for cache assertions.
    pub hits: Arc<AtomicUsize>,
    pub not_modified: Arc<AtomicUsize>,
    /// Every request target (path and query) received, in order.
    pub targets: Arc<Mutex<Vec<String>>>,
    /// Playlists registered by a test: path → body (served 200, max-age=30).
    pub bodies: Arc<Mutex<HashMap<String, String>>>,
}

/// Files served from a folder for paths no route claims.
static FOLDER: Mutex<Option<std::path::PathBuf>> = Mutex::new(None);

struct Shared {
    hits: Arc<AtomicUsize>,
    not_modified: Arc<AtomicUsize>,
    targets: Arc<Mutex<Vec<String>>>,
    bodies: Arc<Mutex<HashMap<String, String>>>,
}

/// A live media playlist: target duration 4 s, a 12 s window, no end.
pub const LIVE_WINDOW: &str = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:41\n#EXTINF:4.0,\nseg-00041.ts\n#EXTINF:4.0,\nseg-00042.ts\n#EXTINF:4.0,\nseg-00043.ts\n";

pub const PLAYLIST: &str =
    "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4.0,\nseg-0.ts\n#EXTINF:4.0,\nseg-1.ts\n";

impl HttpOrigin {
    pub fn start() -> HttpOrigin {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let base = format!("http://{}", listener.local_addr().unwrap());
        let origin = HttpOrigin {
            base,
            hits: Arc::default(),
            not_modified: Arc::default(),
            targets: Arc::default(),
            bodies: Arc::default(),
        };
        let (hits, not_modified, targets, bodies) = (
            origin.hits.clone(),
            origin.not_modified.clone(),
            origin.targets.clone(),
            origin.bodies.clone(),
        );
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let shared = Shared {
                    hits: hits.clone(),
                    not_modified: not_modified.clone(),
                    targets: targets.clone(),
                    bodies: bodies.clone(),
                };
                std::thread::spawn(move || serve(stream, &shared));
            }
        });
        origin
    }

    /// An origin that also serves the files of `dir` (for paths no route
    /// claims).
    pub fn start_serving(dir: &std::path::Path) -> HttpOrigin {
        *FOLDER.lock().unwrap() = Some(dir.to_path_buf());
        Self::start()
    }

    /// Serves `body` at `path` from now on.
    pub fn serve_body(&self, path: &str, body: &str) {
        self.bodies
            .lock()
            .unwrap()
            .insert(path.to_owned(), body.to_owned());
    }

    /// Requests received so far for paths starting with `prefix`.
    pub fn requests_for(&self, prefix: &str) -> Vec<String> {
        self.targets
            .lock()
            .unwrap()
            .iter()
            .filter(|t| t.starts_with(prefix))
            .cloned()
            .collect()
    }
}

fn serve(mut stream: TcpStream, shared: &Shared) {
    let (hits, not_modified) = (&shared.hits, &shared.not_modified);
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    let mut if_none_match = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("if-none-match") {
                if_none_match = Some(value.trim().to_owned());
            }
        }
    }
    let target = request_line.split(' ').nth(1).unwrap_or("/").to_owned();
    let path = target.split('?').next().unwrap_or("/");
    let query = target.split_once('?').map_or("", |(_, q)| q);
    hits.fetch_add(1, Ordering::SeqCst);
    shared.targets.lock().unwrap().push(target.clone());
    let registered = shared.bodies.lock().unwrap().get(path).cloned();
    let respond = |stream: &mut TcpStream, status: &str, headers: &str, body: &[u8]| {
        let head = format!(
            "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n{headers}\r\n",
            body.len()
        );
        let _ = stream.write_all(head.as_bytes());
        let _ = stream.write_all(body);
    };
    match path {
        _ if registered.is_some() => respond(
            &mut stream,
            "200 OK",
            "content-type: application/vnd.apple.mpegurl\r\ncache-control: max-age=30\r\n",
            registered.unwrap_or_default().as_bytes(),
        ),
        // A private playlist: only the holder of `token=alice` may read it.
        p if p.starts_with("/token/") => {
            if query.split('&').any(|pair| pair == "token=alice") {
                respond(
                    &mut stream,
                    "200 OK",
                    "cache-control: max-age=30\r\n",
                    b"#EXTM3U\n#EXTINF:4.0,\nalice-private-0.ts\n",
                )
            } else {
                respond(&mut stream, "403 Forbidden", "", b"no")
            }
        }
        // A live playlist whose body depends on the LL-HLS delivery directive.
        p if p.starts_with("/live-msn/") => {
            let msn = query
                .split('&')
                .find_map(|pair| pair.strip_prefix("_HLS_msn="))
                .unwrap_or("0");
            let body =
                format!("#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:{msn}\n#EXTINF:4.0,\nseg-{msn}.ts\n");
            respond(
                &mut stream,
                "200 OK",
                "cache-control: max-age=30\r\n",
                body.as_bytes(),
            )
        }
        // A live sliding window (target duration 4 s, three segments) whose
        // response already spent `age` seconds of its max-age in a cache in
        // between (`/aged-N/`).
        p if p.starts_with("/aged-") || p.starts_with("/window/") => {
            let age: u32 = p
                .strip_prefix("/aged-")
                .and_then(|rest| rest.split('/').next())
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            respond(
                &mut stream,
                "200 OK",
                &format!("cache-control: max-age=6\r\nage: {age}\r\n"),
                LIVE_WINDOW.as_bytes(),
            )
        }
        p if p.starts_with("/ok/") => respond(
            &mut stream,
            "200 OK",
            "content-type: application/vnd.apple.mpegurl\r\ncache-control: max-age=30\r\n",
            PLAYLIST.as_bytes(),
        ),
        p if p.starts_with("/etag/") => {
            if if_none_match.as_deref() == Some("\"v1\"") {
                not_modified.fetch_add(1, Ordering::SeqCst);
                respond(&mut stream, "304 Not Modified", "etag: \"v1\"\r\n", b"");
            } else {
                respond(
                    &mut stream,
                    "200 OK",
                    "etag: \"v1\"\r\ncache-control: max-age=0\r\n",
                    PLAYLIST.as_bytes(),
                );
            }
        }
        p if p.starts_with("/missing/") => respond(&mut stream, "404 Not Found", "", b"no"),
        p if p.starts_with("/forbidden/") => respond(&mut stream, "403 Forbidden", "", b"no"),
        p if p.starts_with("/broken/") => respond(&mut stream, "500 Oops", "", b"boom"),
        p if p.starts_with("/slow/") => {
            std::thread::sleep(Duration::from_millis(1500));
            respond(&mut stream, "200 OK", "", PLAYLIST.as_bytes());
        }
        p if p.starts_with("/huge/") => {
            let mut body = String::from("#EXTM3U\n");
            while body.len() < 300_000 {
                body.push_str("#EXTINF:4.0,\nsegment-with-a-long-name.ts\n");
            }
            respond(&mut stream, "200 OK", "", body.as_bytes());
        }
        // Echoes the request, signature and all, into the redirect target.
        p if p.starts_with("/redirect-echo/") => respond(
            &mut stream,
            "301 Moved Permanently",
            &format!("location: https://elsewhere.example{target}\r\n"),
            b"",
        ),
        p if p.starts_with("/redirect/") => respond(
            &mut stream,
            "302 Found",
            "location: http://198.51.100.1/elsewhere.m3u8\r\n",
            b"",
        ),
        p if p.starts_with("/html/") => {
            respond(&mut stream, "200 OK", "", b"<html>login page</html>")
        }
        p if p.starts_with("/big/") => {
            // Under the size cap, but its rewrite exceeds the 40 KB edge limit.
            let mut body = String::from("#EXTM3U\n");
            for i in 0..600 {
                body.push_str(&format!("#EXTINF:4.0,\nsegment-{i:05}.ts\n"));
            }
            respond(&mut stream, "200 OK", "", body.as_bytes());
        }
        _ => {
            let folder = FOLDER.lock().unwrap().clone();
            let file = folder
                .filter(|_| !path.contains(".."))
                .and_then(|dir| std::fs::read(dir.join(path.trim_start_matches('/'))).ok());
            match file {
                Some(bytes) => respond(
                    &mut stream,
                    "200 OK",
                    "cache-control: max-age=30\r\n",
                    &bytes,
                ),
                None => respond(&mut stream, "404 Not Found", "", b""),
            }
        }
    }
}
