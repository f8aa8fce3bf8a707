//! A real HTTP/1.1 origin on loopback for the handler's origin tests: each
//! route behaves like one kind of origin (healthy, missing, failing, slow,
//! oversized, redirecting, revalidating).

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

pub struct HttpOrigin {
    pub base: String,
    /// Requests served, per route kind, for cache assertions.
    pub hits: Arc<AtomicUsize>,
    pub not_modified: Arc<AtomicUsize>,
}

pub const PLAYLIST: &str =
    "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4.0,\nseg-0.ts\n#EXTINF:4.0,\nseg-1.ts\n";

impl HttpOrigin {
    pub fn start() -> HttpOrigin {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let base = format!("http://{}", listener.local_addr().unwrap());
        let hits = Arc::new(AtomicUsize::new(0));
        let not_modified = Arc::new(AtomicUsize::new(0));
        let (h, n) = (hits.clone(), not_modified.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (h, n) = (h.clone(), n.clone());
                std::thread::spawn(move || serve(stream, &h, &n));
            }
        });
        HttpOrigin {
            base,
            hits,
            not_modified,
        }
    }
}

fn serve(mut stream: TcpStream, hits: &AtomicUsize, not_modified: &AtomicUsize) {
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
    hits.fetch_add(1, Ordering::SeqCst);
    let respond = |stream: &mut TcpStream, status: &str, headers: &str, body: &[u8]| {
        let head = format!(
            "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n{headers}\r\n",
            body.len()
        );
        let _ = stream.write_all(head.as_bytes());
        let _ = stream.write_all(body);
    };
    match path {
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
        _ => respond(&mut stream, "404 Not Found", "", b""),
    }
}
