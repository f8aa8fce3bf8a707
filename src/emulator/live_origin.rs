//! A small LL-HLS origin on loopback, for `make run` and the live tests: it
//! plays real fMP4 parts (made once by ffmpeg) as a never-ending live
//! stream with the features a MediaPackage LL-HLS endpoint has — partial
//! segments, preload hints, blocking playlist reloads (`_HLS_msn`,
//! `_HLS_part`), delta updates (`_HLS_skip`) and rendition reports — so the
//! function and players can be tested against a playlist that changes under
//! them.
//!
//! The source is a folder holding ffmpeg's fMP4 HLS output at part length:
//! `parts.m3u8` (a VOD playlist listing `init.mp4` and each part with its
//! duration) and the files it names. Every `parts_per_segment` parts make a
//! segment, served as their concatenation. When the source runs out it
//! starts again after an `EXT-X-DISCONTINUITY`, so the stream never ends.
//!
//! [`LiveStream`] is the pure part (the playlist at a given number of
//! available parts); [`serve`] puts it on a socket with a clock.

use std::convert::Infallible;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::{Response, StatusCode};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// Why the source folder cannot be played.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LiveSourceError {
    #[error("{0}: cannot be read ({1}); make it with scripts/live-source.sh")]
    Unreadable(String, String),
    #[error("parts.m3u8 has no EXT-X-MAP (the parts must be fMP4)")]
    NoInit,
    #[error("parts.m3u8 lists {0} parts; at least {1} are needed")]
    TooShort(usize, usize),
    #[error("parts.m3u8 names `{0}`, which is not a plain file name")]
    BadName(String),
}

/// The renditions the origin offers: the same parts under two names, so a
/// playlist has another rendition to report on.
pub const RENDITIONS: [(&str, u32); 2] = [("a", 300_000), ("b", 600_000)];

/// A live stream over source parts.
pub struct LiveStream {
    init: Bytes,
    parts: Vec<(Bytes, f64)>,
    /// Parts per segment.
    per_segment: u64,
    /// Complete segments kept in the playlist.
    window: u64,
    part_target: f64,
    target: u64,
    /// The mean part duration: the clock of the live edge.
    part_seconds: f64,
}

/// One playlist request's view of the stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Edge {
    /// Parts published so far (the next part to come has this index).
    pub parts: u64,
}

impl LiveStream {
    /// Reads `dir/parts.m3u8` and its files.
    pub fn from_folder(
        dir: &Path,
        per_segment: u64,
        window: u64,
    ) -> Result<LiveStream, LiveSourceError> {
        let read = |name: &str| {
            if name.contains(['/', '\\']) || name.starts_with('.') {
                return Err(LiveSourceError::BadName(name.to_owned()));
            }
            let path = dir.join(name);
            std::fs::read(&path)
                .map(Bytes::from)
                .map_err(|e| LiveSourceError::Unreadable(path.display().to_string(), e.to_string()))
        };
        let listing = read("parts.m3u8")?;
        let listing = String::from_utf8_lossy(&listing);
        let mut init = None;
        let mut parts = Vec::new();
        let mut duration = None;
        for line in listing.lines().map(str::trim) {
            if let Some(map) = line.strip_prefix("#EXT-X-MAP:URI=\"") {
                init = Some(read(map.split('"').next().unwrap_or(""))?);
            } else if let Some(inf) = line.strip_prefix("#EXTINF:") {
                duration = inf.split(',').next().and_then(|d| d.parse::<f64>().ok());
            } else if !line.is_empty() && !line.starts_with('#') {
                parts.push((read(line)?, duration.take().unwrap_or(0.0)));
            }
        }
        let init = init.ok_or(LiveSourceError::NoInit)?;
        let per_segment = per_segment.max(1);
        let needed = (per_segment * (window + 2)) as usize;
        if parts.len() < needed {
            return Err(LiveSourceError::TooShort(parts.len(), needed));
        }
        parts.truncate(parts.len() - parts.len() % per_segment as usize);
        Ok(Self::new(init, parts, per_segment, window))
    }

    /// A stream over `parts` (bytes and duration in seconds).
    pub fn new(init: Bytes, parts: Vec<(Bytes, f64)>, per_segment: u64, window: u64) -> Self {
        let longest = parts.iter().map(|(_, d)| *d).fold(0.0, f64::max);
        // Rounded up at five decimals, so every part fits under it.
        let part_target = (longest * 100_000.0).ceil() / 100_000.0;
        let target = (longest * per_segment as f64).round().max(1.0) as u64;
        let total: f64 = parts.iter().map(|(_, d)| d).sum();
        let part_seconds = (total / parts.len().max(1) as f64).max(0.01);
        Self {
            part_seconds,
            init,
            parts,
            per_segment,
            window,
            part_target,
            target,
        }
    }

    /// The nominal duration of a part, in seconds.
    pub fn part_seconds(&self) -> f64 {
        self.part_seconds
    }

    /// Parts published `elapsed` after the origin started; the window is
    /// full from the first request.
    pub fn edge_after(&self, elapsed: Duration) -> Edge {
        let played = (elapsed.as_secs_f64() / self.part_seconds()) as u64;
        Edge {
            parts: self.per_segment * (self.window + 1) + played,
        }
    }

    fn source_segments(&self) -> u64 {
        self.parts.len() as u64 / self.per_segment
    }

    fn part(&self, global: u64) -> &(Bytes, f64) {
        &self.parts[(global % self.parts.len() as u64) as usize]
    }

    /// The segment's bytes (its parts, concatenated), once complete.
    pub fn segment(&self, edge: Edge, msn: u64) -> Option<Bytes> {
        let first = msn.checked_mul(self.per_segment)?;
        if first + self.per_segment > edge.parts || msn < self.first_msn(edge) {
            return None;
        }
        let mut bytes = Vec::new();
        for index in first..first + self.per_segment {
            bytes.extend_from_slice(&self.part(index).0);
        }
        Some(Bytes::from(bytes))
    }

    /// Part `index` of segment `msn`, once published.
    pub fn part_bytes(&self, edge: Edge, msn: u64, index: u64) -> Option<Bytes> {
        let global = self.global(msn, index)?;
        (global < edge.parts && msn >= self.first_msn(edge)).then(|| self.part(global).0.clone())
    }

    /// The index of part `index` of segment `msn` in the whole stream.
    pub fn global(&self, msn: u64, index: u64) -> Option<u64> {
        (index < self.per_segment).then_some(msn.checked_mul(self.per_segment)? + index)
    }

    pub fn init(&self) -> Bytes {
        self.init.clone()
    }

    fn first_msn(&self, edge: Edge) -> u64 {
        (edge.parts / self.per_segment).saturating_sub(self.window)
    }

    /// The `(msn, part)` of the last published part.
    pub fn last_part(&self, edge: Edge) -> (u64, u64) {
        let last = edge.parts.saturating_sub(1);
        (last / self.per_segment, last % self.per_segment)
    }

    /// Whether the stream has reached what a blocking reload waits for:
    /// part `part` of `msn`, or (no part) the whole segment `msn`.
    pub fn reached(&self, edge: Edge, msn: u64, part: Option<u64>) -> bool {
        let needed = match part {
            Some(part) => msn.saturating_mul(self.per_segment).saturating_add(part) + 1,
            None => msn.saturating_add(1).saturating_mul(self.per_segment),
        };
        edge.parts >= needed
    }

    /// The multivariant playlist.
    pub fn master(&self) -> String {
        let mut out = String::from("#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-INDEPENDENT-SEGMENTS\n");
        for (name, bandwidth) in RENDITIONS {
            let _ = write!(
                out,
                "#EXT-X-STREAM-INF:BANDWIDTH={bandwidth},AVERAGE-BANDWIDTH={bandwidth}\n{name}/index.m3u8\n"
            );
        }
        out
    }

    /// The media playlist of `rendition` at `edge`; `skip` asks for a delta
    /// update (segments older than `CAN-SKIP-UNTIL` replaced by
    /// `EXT-X-SKIP`).
    pub fn media(&self, rendition: &str, edge: Edge, skip: bool) -> String {
        let k = self.per_segment;
        let complete = edge.parts / k;
        let partial = edge.parts % k;
        let first = self.first_msn(edge);
        let wraps = self.source_segments();
        let skip_until = 6 * self.target;
        let mut out = String::with_capacity(4096);
        let _ = write!(
            out,
            "#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-TARGETDURATION:{}\n#EXT-X-PART-INF:PART-TARGET={}\n\
             #EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK={:.3},CAN-SKIP-UNTIL={skip_until}\n\
             #EXT-X-MEDIA-SEQUENCE:{first}\n#EXT-X-DISCONTINUITY-SEQUENCE:{}\n#EXT-X-MAP:URI=\"init.mp4\"\n",
            self.target,
            self.part_target,
            3.0 * self.part_target,
            if first == 0 { 0 } else { (first - 1) / wraps },
        );
        // Segments more than CAN-SKIP-UNTIL from the end go in a delta update.
        let listed = complete - first;
        let skipped = if skip {
            listed.saturating_sub(skip_until / self.target.max(1))
        } else {
            0
        };
        if skipped > 0 {
            let _ = writeln!(out, "#EXT-X-SKIP:SKIPPED-SEGMENTS={skipped}");
        }
        for msn in first + skipped..complete {
            if msn > 0 && msn % wraps == 0 {
                out.push_str("#EXT-X-DISCONTINUITY\n");
            }
            // Parts are listed for the last two segments (RFC 8216bis:
            // within three target durations of the end).
            if msn + 2 >= complete {
                self.write_parts(&mut out, msn, k);
            }
            let seconds: f64 = (0..k).map(|i| self.part(msn * k + i).1).sum();
            let _ = write!(out, "#EXTINF:{seconds:.5},\ns{msn}.m4s\n");
        }
        if partial > 0 {
            if complete > 0 && complete % wraps == 0 {
                out.push_str("#EXT-X-DISCONTINUITY\n");
            }
            self.write_parts(&mut out, complete, partial);
        }
        let _ = writeln!(
            out,
            "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"s{complete}.{partial}.m4s\""
        );
        let (last_msn, last_part) = self.last_part(edge);
        for (other, _) in RENDITIONS.iter().filter(|(name, _)| *name != rendition) {
            let _ = writeln!(
                out,
                "#EXT-X-RENDITION-REPORT:URI=\"../{other}/index.m3u8\",LAST-MSN={last_msn},LAST-PART={last_part}"
            );
        }
        out
    }

    fn write_parts(&self, out: &mut String, msn: u64, count: u64) {
        for i in 0..count {
            let duration = self.part(msn * self.per_segment + i).1;
            let _ = writeln!(
                out,
                "#EXT-X-PART:DURATION={duration:.5},URI=\"s{msn}.{i}.m4s\",INDEPENDENT=YES"
            );
        }
    }
}

/// What a request under the mount path asks for.
#[derive(Debug, PartialEq, Eq)]
enum Asked<'a> {
    Master,
    Media(&'a str),
    Init,
    Segment(u64),
    Part(u64, u64),
}

fn asked(rest: &str) -> Option<Asked<'_>> {
    if rest == "master.m3u8" {
        return Some(Asked::Master);
    }
    let (rendition, file) = rest.split_once('/')?;
    if !RENDITIONS.iter().any(|(name, _)| *name == rendition) {
        return None;
    }
    if file == "index.m3u8" {
        return Some(Asked::Media(rendition));
    }
    if file == "init.mp4" {
        return Some(Asked::Init);
    }
    let stem = file.strip_prefix('s')?.strip_suffix(".m4s")?;
    fn digits(s: &str) -> Option<&str> {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())).then_some(s)
    }
    match stem.split_once('.') {
        None => Some(Asked::Segment(digits(stem)?.parse().ok()?)),
        Some((msn, part)) => Some(Asked::Part(
            digits(msn)?.parse().ok()?,
            digits(part)?.parse().ok()?,
        )),
    }
}

/// The LL-HLS delivery directives of a query.
#[derive(Debug, Default, PartialEq, Eq)]
struct Directives {
    msn: Option<u64>,
    part: Option<u64>,
    skip: bool,
}

fn directives(query: &str) -> Result<Directives, &'static str> {
    let mut found = Directives::default();
    for pair in query.split('&') {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        match name {
            "_HLS_msn" => found.msn = Some(value.parse().map_err(|_| "bad _HLS_msn")?),
            "_HLS_part" => found.part = Some(value.parse().map_err(|_| "bad _HLS_part")?),
            "_HLS_skip" => found.skip = value == "YES" || value == "v2",
            _ => {}
        }
    }
    if found.part.is_some() && found.msn.is_none() {
        return Err("_HLS_part without _HLS_msn");
    }
    Ok(found)
}

/// The origin: a stream, a mount path and a start time.
pub struct LiveOrigin {
    pub stream: LiveStream,
    /// Where the stream is served, e.g. `/live/ll/`.
    pub mount: String,
    pub started: Instant,
}

type HttpResponse = Response<Full<Bytes>>;

fn reply(status: StatusCode, content_type: &str, cache: &str, body: Bytes) -> HttpResponse {
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .header("cache-control", cache)
        .header("access-control-allow-origin", "*")
        .body(Full::new(body))
        .unwrap_or_default()
}

fn text(status: StatusCode, body: &'static str) -> HttpResponse {
    reply(
        status,
        "text/plain",
        "no-store",
        Bytes::from_static(body.as_bytes()),
    )
}

impl LiveOrigin {
    fn edge(&self) -> Edge {
        self.stream.edge_after(self.started.elapsed())
    }

    /// Waits (bounded by three target durations, as RFC 8216bis asks of a
    /// blocking reload) until `done` holds at the live edge.
    async fn wait_for(&self, done: impl Fn(Edge) -> bool) -> Edge {
        let limit = Instant::now() + Duration::from_secs(3 * self.stream.target);
        loop {
            let edge = self.edge();
            if done(edge) || Instant::now() >= limit {
                return edge;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn answer(&self, path: &str, query: &str) -> (HttpResponse, String) {
        let Some(asked) = path.strip_prefix(self.mount.as_str()).and_then(asked) else {
            return (text(StatusCode::NOT_FOUND, "not here\n"), "no route".into());
        };
        const PLAYLIST: &str = "application/vnd.apple.mpegurl";
        const MEDIA: &str = "max-age=3600";
        match asked {
            Asked::Master => (
                reply(
                    StatusCode::OK,
                    PLAYLIST,
                    "max-age=60",
                    self.stream.master().into(),
                ),
                String::new(),
            ),
            Asked::Media(rendition) => {
                let wanted = match directives(query) {
                    Ok(wanted) => wanted,
                    Err(reason) => {
                        return (
                            text(StatusCode::BAD_REQUEST, "bad directive\n"),
                            reason.into(),
                        )
                    }
                };
                let now = self.edge();
                let mut note = String::new();
                let edge = match wanted.msn {
                    // More than two segments ahead of the edge: 400 (RFC 8216bis 6.2.5.2).
                    Some(msn) if msn > self.stream.last_part(now).0 + 2 => {
                        return (
                            text(StatusCode::BAD_REQUEST, "_HLS_msn too far ahead\n"),
                            "too far ahead".into(),
                        );
                    }
                    Some(msn) => {
                        let started = Instant::now();
                        let edge = self
                            .wait_for(|edge| self.stream.reached(edge, msn, wanted.part))
                            .await;
                        let _ = write!(note, "blocked_ms={}", started.elapsed().as_millis());
                        edge
                    }
                    None => now,
                };
                // A blocking reload's URL names one playlist state: it may be
                // kept; the bare URL changes with every part.
                let cache = if wanted.msn.is_some() {
                    "max-age=60"
                } else {
                    "max-age=1"
                };
                let body = self.stream.media(rendition, edge, wanted.skip);
                (reply(StatusCode::OK, PLAYLIST, cache, body.into()), note)
            }
            Asked::Init => (
                reply(StatusCode::OK, "video/mp4", MEDIA, self.stream.init()),
                String::new(),
            ),
            Asked::Segment(msn) => match self.stream.segment(self.edge(), msn) {
                Some(bytes) => (
                    reply(StatusCode::OK, "video/iso.segment", MEDIA, bytes),
                    String::new(),
                ),
                None => (
                    text(StatusCode::NOT_FOUND, "no such segment\n"),
                    "not published".into(),
                ),
            },
            Asked::Part(msn, index) => {
                // A hinted part is asked for before it exists: hold the
                // request until it is published (bounded).
                let Some(global) = self.stream.global(msn, index) else {
                    return (
                        text(StatusCode::NOT_FOUND, "no such part\n"),
                        "bad part".into(),
                    );
                };
                let edge = if global == self.edge().parts {
                    self.wait_for(|edge| edge.parts > global).await
                } else {
                    self.edge()
                };
                match self.stream.part_bytes(edge, msn, index) {
                    Some(bytes) => (
                        reply(StatusCode::OK, "video/iso.segment", MEDIA, bytes),
                        String::new(),
                    ),
                    None => (
                        text(StatusCode::NOT_FOUND, "no such part\n"),
                        "not published".into(),
                    ),
                }
            }
        }
    }
}

/// Serves `origin` on `listener` until it fails; one access-log line per
/// request on stdout (`GET path?query status note`).
pub async fn serve(listener: TcpListener, origin: Arc<LiveOrigin>) -> std::io::Result<()> {
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        let origin = origin.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request: http::Request<Incoming>| {
                let origin = origin.clone();
                async move {
                    let path = request.uri().path().to_owned();
                    let query = request.uri().query().unwrap_or("").to_owned();
                    let (response, note) = origin.answer(&path, &query).await;
                    // Only the delivery directives are logged: a query may
                    // hold anything, a signature included.
                    let directives: Vec<&str> = query
                        .split('&')
                        .filter(|pair| pair.starts_with("_HLS_"))
                        .collect();
                    let target: String = match directives.is_empty() {
                        true => path,
                        false => format!("{path}?{}", directives.join("&")),
                    }
                    .chars()
                    .take(300)
                    .collect();
                    println!(
                        "{} {target} {} {note}",
                        request.method(),
                        response.status().as_u16()
                    );
                    Ok::<_, Infallible>(response)
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 30 parts of 1/3 s (10 segments of 1 s), three per segment, a window
    /// of four segments.
    fn stream() -> LiveStream {
        let parts = (0..30)
            .map(|i| (Bytes::from(format!("part{i};")), 1.0 / 3.0))
            .collect();
        LiveStream::new(Bytes::from_static(b"init"), parts, 3, 4)
    }

    #[test]
    fn the_window_slides_with_parts_hints_and_reports() {
        let s = stream();
        let edge = Edge { parts: 3 * 6 + 2 };
        let playlist = s.media("a", edge, false);
        assert!(playlist.contains("#EXT-X-TARGETDURATION:1\n"), "{playlist}");
        assert!(playlist.contains("#EXT-X-PART-INF:PART-TARGET=0.33334\n"));
        assert!(playlist.contains("#EXT-X-MEDIA-SEQUENCE:2\n"));
        for msn in 2..6 {
            assert!(playlist.contains(&format!("\ns{msn}.m4s\n")), "{playlist}");
        }
        assert!(!playlist.contains("s1.m4s") && !playlist.contains("\ns6.m4s"));
        // Parts of the last two complete segments and of the partial one.
        assert!(!playlist.contains("URI=\"s3.0.m4s\""));
        assert!(playlist.contains("URI=\"s4.0.m4s\"") && playlist.contains("URI=\"s6.1.m4s\""));
        assert!(playlist.contains("#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"s6.2.m4s\"\n"));
        assert!(playlist
            .contains("#EXT-X-RENDITION-REPORT:URI=\"../b/index.m3u8\",LAST-MSN=6,LAST-PART=1\n"));
        assert!(crate::hls::scan::scan(&playlist).is_ok());
        let timing = crate::live::LiveTiming::of_hls(&playlist).unwrap();
        assert_eq!(timing.max_age(), 0);
    }

    #[test]
    fn the_source_wraps_after_a_discontinuity() {
        let s = stream();
        let playlist = s.media("a", Edge { parts: 3 * 12 }, false);
        assert!(playlist.contains("#EXT-X-MEDIA-SEQUENCE:8\n"));
        assert!(playlist.contains("#EXT-X-DISCONTINUITY-SEQUENCE:0\n"));
        assert!(
            playlist
                .contains("#EXT-X-DISCONTINUITY\n#EXT-X-PART:DURATION=0.33333,URI=\"s10.0.m4s\""),
            "{playlist}"
        );
        let later = s.media("a", Edge { parts: 3 * 16 }, false);
        assert!(
            later.contains("#EXT-X-MEDIA-SEQUENCE:12\n#EXT-X-DISCONTINUITY-SEQUENCE:1\n"),
            "{later}"
        );
        // Segment 10 is source segment 0 again.
        assert_eq!(
            s.segment(Edge { parts: 3 * 12 }, 10).unwrap(),
            "part0;part1;part2;"
        );
    }

    #[test]
    fn delta_updates_skip_what_is_older_than_six_targets() {
        let parts = (0..60)
            .map(|_| (Bytes::from_static(b"x"), 1.0 / 3.0))
            .collect();
        let s = LiveStream::new(Bytes::new(), parts, 3, 12);
        let edge = Edge { parts: 3 * 14 };
        let delta = s.media("b", edge, true);
        assert!(
            delta.contains("#EXT-X-SKIP:SKIPPED-SEGMENTS=6\n"),
            "{delta}"
        );
        assert!(!delta.contains("\ns7.m4s\n") && delta.contains("\ns8.m4s\n"));
        let timing = crate::live::LiveTiming::of_hls(&delta).unwrap();
        assert_eq!(timing.window, 12.0);
        assert!(!s.media("b", edge, false).contains("EXT-X-SKIP"));
    }

    #[test]
    fn blocking_reloads_wait_for_the_named_part() {
        let s = stream();
        let edge = Edge { parts: 3 * 6 + 1 };
        assert!(s.reached(edge, 6, Some(0)));
        assert!(!s.reached(edge, 6, Some(1)));
        assert!(s.reached(edge, 5, None));
        assert!(!s.reached(edge, 6, None));
        assert_eq!(s.part_bytes(edge, 6, 0).unwrap(), "part18;");
        assert!(s.part_bytes(edge, 6, 1).is_none());
        assert!(s.segment(edge, 6).is_none());
        // Out of the window.
        assert!(s.segment(edge, 1).is_none());
    }

    #[test]
    fn requests_and_directives_are_read_strictly() {
        assert_eq!(asked("master.m3u8"), Some(Asked::Master));
        assert_eq!(asked("a/index.m3u8"), Some(Asked::Media("a")));
        assert_eq!(asked("b/s12.m4s"), Some(Asked::Segment(12)));
        assert_eq!(asked("b/s12.2.m4s"), Some(Asked::Part(12, 2)));
        for bad in [
            "c/index.m3u8",
            "a/s.m4s",
            "a/s1.x.m4s",
            "a/../a/init.mp4",
            "a/s-1.m4s",
        ] {
            assert_eq!(asked(bad), None, "{bad}");
        }
        assert_eq!(
            directives("_HLS_msn=7&_HLS_part=2&_HLS_skip=YES"),
            Ok(Directives {
                msn: Some(7),
                part: Some(2),
                skip: true
            })
        );
        assert!(directives("_HLS_part=2").is_err());
        assert!(directives("_HLS_msn=x").is_err());
    }
}
