//! The emulator's origin for everything that is not a playlist route:
//! a folder (content types by extension, single byte ranges, HEAD) or an
//! HTTP origin (requests proxied with the same Range header).

use http::Response;
use http_body_util::Full;
use hyper::body::Bytes;

pub use crate::origin::FolderOrigin;
use crate::paths::check_path;

pub enum StaticOrigin {
    Dir(FolderOrigin),
    Http {
        base: String,
        client: reqwest::Client,
    },
}

type HttpResponse = Response<Full<Bytes>>;

/// Content types players care about.
pub fn content_type(path: &str) -> &'static str {
    let extension = path.rsplit_once('.').map_or("", |(_, e)| e);
    match extension.to_ascii_lowercase().as_str() {
        "m3u8" => "application/vnd.apple.mpegurl",
        "ts" => "video/mp2t",
        "m4s" | "mp4" | "m4v" => "video/mp4",
        "m4a" | "aac" => "audio/mp4",
        "vtt" | "webvtt" => "text/vtt",
        "mpd" => "application/dash+xml",
        "json" => "application/json",
        "html" => "text/html; charset=utf-8",
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        _ => "application/octet-stream",
    }
}

/// Parses a single `bytes=start-end` / `bytes=start-` / `bytes=-suffix`
/// range against a body of `len` bytes; `Err` means unsatisfiable.
pub fn byte_range(header: &str, len: usize) -> Result<Option<(usize, usize)>, ()> {
    let Some(spec) = header.trim().strip_prefix("bytes=") else {
        return Ok(None); // other units: ignore, serve everything
    };
    if spec.contains(',') {
        return Ok(None); // multiple ranges: serve everything
    }
    let (start, end) = spec.split_once('-').ok_or(())?;
    let (start, end) = match (start.trim(), end.trim()) {
        ("", suffix) => {
            let n: usize = suffix.parse().map_err(|_| ())?;
            if n == 0 {
                return Err(());
            }
            (len.saturating_sub(n), len.saturating_sub(1))
        }
        (start, "") => (start.parse().map_err(|_| ())?, len.saturating_sub(1)),
        (start, end) => {
            let end: usize = end.parse().map_err(|_| ())?;
            (
                start.parse().map_err(|_| ())?,
                end.min(len.saturating_sub(1)),
            )
        }
    };
    if len == 0 || start > end || start >= len {
        return Err(());
    }
    Ok(Some((start, end)))
}

impl StaticOrigin {
    /// Serves `path`; an HTTP origin also gets `query` (what the
    /// behaviour's cache policy forwards) and answers with its own caching
    /// headers.
    pub async fn serve(
        &self,
        path: &str,
        query: Option<&str>,
        head: bool,
        range: Option<&str>,
    ) -> (HttpResponse, String) {
        match self {
            StaticOrigin::Dir(folder) => serve_file(folder, path, head, range),
            StaticOrigin::Http { base, client } => {
                let target = match query.filter(|q| !q.is_empty()) {
                    Some(query) => format!("{base}{path}?{query}"),
                    None => format!("{base}{path}"),
                };
                let mut request = client.get(target);
                if let Some(range) = range {
                    request = request.header("range", range);
                }
                match request.send().await {
                    Ok(upstream) => {
                        let status = upstream.status().as_u16();
                        let mut builder = Response::builder().status(status);
                        for name in [
                            "content-type",
                            "content-range",
                            "accept-ranges",
                            "etag",
                            "last-modified",
                            "cache-control",
                            "age",
                        ] {
                            if let Some(value) = upstream.headers().get(name) {
                                builder = builder.header(name, value);
                            }
                        }
                        let body = upstream.bytes().await.unwrap_or_default();
                        let body = if head { Bytes::new() } else { body };
                        (
                            builder.body(Full::new(body)).unwrap_or_default(),
                            String::new(),
                        )
                    }
                    Err(_) => (
                        plain(502, "origin unreachable\n"),
                        "origin unreachable".into(),
                    ),
                }
            }
        }
    }
}

fn plain(status: u16, body: &'static str) -> HttpResponse {
    Response::builder()
        .status(status)
        .header("content-type", "text/plain")
        .body(Full::new(Bytes::from_static(body.as_bytes())))
        .unwrap_or_default()
}

fn serve_file(
    folder: &FolderOrigin,
    path: &str,
    head: bool,
    range: Option<&str>,
) -> (HttpResponse, String) {
    // The same path checks as the function: nothing outside the folder.
    if let Err(reason) = check_path(path) {
        return (plain(400, "bad path\n"), reason.to_string());
    }
    let Some(bytes) = folder.read(path.trim_start_matches('/')) else {
        return (
            plain(404, "not found\n"),
            "no such file in the origin".into(),
        );
    };
    let builder = Response::builder()
        .header("content-type", content_type(path))
        .header("accept-ranges", "bytes");
    let (builder, body) = match range.map(|r| byte_range(r, bytes.len())) {
        Some(Err(())) => {
            let builder = builder
                .status(416)
                .header("content-range", format!("bytes */{}", bytes.len()));
            (builder, Bytes::new())
        }
        Some(Ok(Some((start, end)))) => {
            let builder = builder.status(206).header(
                "content-range",
                format!("bytes {start}-{end}/{}", bytes.len()),
            );
            (builder, bytes.slice(start..=end))
        }
        _ => (builder.status(200), bytes),
    };
    let body = if head { Bytes::new() } else { body };
    (
        builder.body(Full::new(body)).unwrap_or_default(),
        String::new(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(byte_range("bytes=0-9", 100), Ok(Some((0, 9))));
        assert_eq!(byte_range("bytes=90-", 100), Ok(Some((90, 99))));
        assert_eq!(byte_range("bytes=-10", 100), Ok(Some((90, 99))));
        assert_eq!(byte_range("bytes=50-500", 100), Ok(Some((50, 99))));
        assert_eq!(byte_range("bytes=100-", 100), Err(()));
        assert_eq!(byte_range("bytes=9-1", 100), Err(()));
        assert_eq!(byte_range("bytes=0-1,5-6", 100), Ok(None));
        assert_eq!(byte_range("items=0-1", 100), Ok(None));
    }

    #[test]
    fn content_types() {
        assert_eq!(content_type("/a/b.TS"), "video/mp2t");
        assert_eq!(
            content_type("/a/index.m3u8"),
            "application/vnd.apple.mpegurl"
        );
        assert_eq!(content_type("/k/key"), "application/octet-stream");
    }
}
