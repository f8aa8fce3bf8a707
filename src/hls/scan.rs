//! Lossless URI scanner for HLS playlists (RFC 8216 and draft-pantos-hls-rfc8216bis).
//!
//! # Why byte ranges
//!
//! The signer must change exactly one thing in a playlist: every URI it
//! carries becomes a signed URL. Everything else — tag order, attribute order
//! and spelling, unknown and vendor tags, comments, blank lines, CRLF line
//! ends, a BOM — must reach the player byte for byte, because players (and the
//! people debugging them) depend on details that no playlist model captures.
//! Parsing into a model and serialising it back would silently drop or
//! normalise whatever the model does not know about.
//!
//! So this module does not build a model. [`scan`] makes one pass over the
//! text and reports, for every URI, the byte range it occupies
//! ([`UriRef::range`]) and what carries it ([`Carrier`]). A rewriter then
//! copies the bytes between ranges unchanged and splices a replacement into
//! each range. Because the ranges are increasing and non-overlapping, that is
//! a single forward copy, and anything the scanner does not understand is, by
//! construction, preserved.
//!
//! The scanner is pure: no I/O, no allocation besides the output `Vec`, and it
//! never panics, whatever the input.
//!
//! # What is a URI
//!
//! * **Bare URI lines**: every line that is not blank and whose first
//!   non-blank character is not `#`. Such a line is a media segment
//!   ([`Carrier::Segment`]) unless it is the URI line of an
//!   `EXT-X-STREAM-INF` (or Roku's `EXT-X-IMAGE-STREAM-INF`), in which case it
//!   is a [`Carrier::VariantStream`]. Surrounding spaces, tabs and the CR of a
//!   CRLF are not part of the range.
//! * **Quoted attributes** of the tags in [`URI_ATTRIBUTES`] (`EXT-X-KEY` `URI`,
//!   `EXT-X-MAP` `URI`, `EXT-X-DATERANGE` `X-ASSET-URI`, ...). The range is the
//!   text between the quotes. Only those tags' attribute lists are parsed, so
//!   an oddity in any other tag can never make a scan fail.
//!
//! Everything is case-sensitive, as HLS is: `uri="..."` is not `URI`, and the
//! tag name must match exactly up to the `:` (so `EXT-X-MEDIA-SEQUENCE` is not
//! `EXT-X-MEDIA`).
//!
//! # Choices worth knowing
//!
//! * A line whose first *non-blank* character is `#` is a tag or comment even
//!   if indented. A URI line cannot usefully start with `#` (that would be a
//!   fragment-only reference to the playlist itself), and most parsers trim
//!   lines before looking at them.
//! * A bare line is a variant stream when an `EXT-X-STREAM-INF` (or
//!   `EXT-X-IMAGE-STREAM-INF`) tag came before it and has not yet been given
//!   its URI line. Comments, blank lines and *other tags* in between do not
//!   break that link: RFC 8216 says clients must ignore tags they do not
//!   recognise, and the spec only says the URI line "follows" the tag (hls.js
//!   behaves the same way). An `EXTINF` in between does break it, since it
//!   announces a media segment. In a valid playlist this is the same as "the
//!   most recent tag was `EXT-X-STREAM-INF`".
//! * An attribute of interest must be a quoted string; an empty or
//!   blank-only one is an error ([`ScanError::EmptyUri`]) because resolving it
//!   would point at the playlist itself. One exception: in `EXT-X-KEY` /
//!   `EXT-X-SESSION-KEY` with `METHOD=NONE` an empty `URI=""` is skipped
//!   (neither reported nor an error), since no key is fetched and there is
//!   nothing to sign; some packagers write it that way. If an attribute
//!   appears twice in one tag (invalid HLS), both occurrences are reported, so
//!   whichever one a player picks is rewritten.
//! * A value is a quoted string when it starts with `"`, and otherwise an
//!   unquoted token up to the next comma; a stray `"` inside an unquoted token
//!   is ordinary text (hls.js reads `IV=00ff",URI="k"` the same way).
//! * In a tag of interest, an attribute list that cannot be split with
//!   certainty (unterminated quoted string, entry without `=`, quote in a
//!   name, text after a closing quote) is an error rather than a guess: a
//!   wrong split could hide a URI from the rewriter or splice into the wrong
//!   place. Empty entries (`,,`, trailing comma) and spaces or tabs around `=`
//!   and `,` are tolerated.
//! * The scanner reports every URI, whatever its scheme (`data:`, `skd://`,
//!   absolute or relative); deciding which ones to sign is the rewriter's job.

use std::ops::Range;

/// The tags whose attribute lists are parsed, with the attributes that hold a
/// URI (tag names without the leading `#`).
pub const URI_ATTRIBUTES: &[(&str, &[&str])] = &[
    ("EXT-X-KEY", &["URI"]),
    ("EXT-X-SESSION-KEY", &["URI"]),
    ("EXT-X-MAP", &["URI"]),
    ("EXT-X-MEDIA", &["URI"]),
    ("EXT-X-I-FRAME-STREAM-INF", &["URI"]),
    ("EXT-X-IMAGE-STREAM-INF", &["URI"]),
    ("EXT-X-SESSION-DATA", &["URI"]),
    ("EXT-X-PART", &["URI"]),
    ("EXT-X-PRELOAD-HINT", &["URI"]),
    ("EXT-X-RENDITION-REPORT", &["URI"]),
    ("EXT-X-CONTENT-STEERING", &["SERVER-URI"]),
    ("EXT-X-DATERANGE", &["X-ASSET-URI", "X-ASSET-LIST", "X-URI"]),
];

/// Tags whose URI line (the next bare line) is a variant playlist.
const VARIANT_TAGS: &[&str] = &["EXT-X-STREAM-INF", "EXT-X-IMAGE-STREAM-INF"];

const BOM: &str = "\u{FEFF}";

/// Where a URI sits and what carries it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UriRef {
    /// Byte range of the URI text inside the playlist (for attributes: inside
    /// the quotes, quotes excluded). Offsets count from the start of the input,
    /// BOM included, and always fall on `char` boundaries.
    pub range: Range<usize>,
    pub carrier: Carrier,
    /// 1-based line number, for error messages.
    pub line: usize,
}

/// What carries a URI.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Carrier {
    /// A bare URI line that is a media segment (or any bare URI line not after
    /// a `*STREAM-INF` tag).
    Segment,
    /// The bare URI line following `EXT-X-STREAM-INF` (a variant playlist), or
    /// following Roku's `EXT-X-IMAGE-STREAM-INF`.
    VariantStream,
    /// A quoted attribute of a tag: tag name without '#', attribute name.
    Attribute {
        tag: &'static str,
        attribute: &'static str,
    },
    /// A quoted `URI` or `*-URI` attribute of a tag outside
    /// [`URI_ATTRIBUTES`] (a newer or vendor tag, or `EXT-X-STREAM-INF`
    /// carrying one): fetched by players that know the tag.
    OtherAttribute,
}

/// Why a playlist cannot be scanned.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ScanError {
    #[error("not an HLS playlist: it does not start with #EXTM3U")]
    NotAPlaylist,
    #[error("line {line}: {tag} has a malformed attribute list ({reason})")]
    MalformedAttributes {
        line: usize,
        tag: &'static str,
        reason: &'static str,
    },
    #[error("line {line}: {tag} has an empty {attribute} attribute")]
    EmptyUri {
        line: usize,
        tag: &'static str,
        attribute: &'static str,
    },
}

/// Whether `text` is an HLS playlist: after an optional UTF-8 BOM, its first
/// line is `#EXTM3U`, optionally followed by spaces, tabs or a CR.
pub fn is_playlist(text: &str) -> bool {
    let body = text.strip_prefix(BOM).unwrap_or(text).as_bytes();
    let first = match body.iter().position(|&b| b == b'\n') {
        Some(i) => &body[..i],
        None => body,
    };
    match first.strip_prefix(b"#EXTM3U") {
        Some(rest) => rest.iter().all(|&b| is_trailing_blank(b)),
        None => false,
    }
}

/// Finds every URI in `playlist`, in order.
///
/// Returns the URIs as byte ranges with their carrier and line (see the
/// module documentation for the rules), or the first reason the playlist
/// cannot be rewritten safely.
pub fn scan(playlist: &str) -> Result<Vec<UriRef>, ScanError> {
    if !is_playlist(playlist) {
        return Err(ScanError::NotAPlaylist);
    }
    let bytes = playlist.as_bytes();
    let mut pos = if playlist.starts_with(BOM) {
        BOM.len()
    } else {
        0
    };
    let mut line = 0;
    let mut out = Vec::new();
    // An EXT-X-STREAM-INF (or IMAGE-STREAM-INF) is waiting for its URI line.
    let mut variant_pending = false;

    while pos < bytes.len() {
        line += 1;
        let (line_end, next) = match bytes[pos..].iter().position(|&b| b == b'\n') {
            Some(i) => (pos + i, pos + i + 1),
            None => (bytes.len(), bytes.len()),
        };
        let (start, end) = trim(bytes, pos, line_end);
        pos = next;
        let Some(&first) = bytes.get(start..end).and_then(|l| l.first()) else {
            continue; // blank line
        };
        if first != b'#' {
            let carrier = if variant_pending {
                Carrier::VariantStream
            } else {
                Carrier::Segment
            };
            variant_pending = false;
            out.push(UriRef {
                range: start..end,
                carrier,
                line,
            });
            continue;
        }
        let text = &bytes[start..end];
        if !text.starts_with(b"#EXT") {
            continue; // a comment
        }
        let name_end = text.iter().position(|&b| b == b':').unwrap_or(text.len());
        let name = &text[1..name_end];
        if name == b"EXTINF" {
            variant_pending = false;
        } else if VARIANT_TAGS.iter().any(|t| t.as_bytes() == name) {
            variant_pending = true;
        }
        if name_end < text.len() {
            match URI_ATTRIBUTES.iter().find(|(t, _)| t.as_bytes() == name) {
                // A tag of interest: its list must split with certainty.
                Some(&(tag, wanted)) => {
                    let attrs = Attributes {
                        bytes,
                        line,
                        tag,
                        wanted,
                    };
                    attrs.scan(start + name_end + 1, end, &mut out)?;
                }
                // Any other tag may carry a `URI` or `*-URI` attribute too.
                // Its list is read leniently: one that does not split with
                // certainty is left alone, as before (no URI, no error).
                None => {
                    let attrs = Attributes {
                        bytes,
                        line,
                        tag: "",
                        wanted: &[],
                    };
                    let mut found = Vec::new();
                    if attrs.scan(start + name_end + 1, end, &mut found).is_ok() {
                        out.append(&mut found);
                    }
                }
            }
        }
    }
    Ok(out)
}

/// `URI`, or a name ending in `-URI` (`SERVER-URI`, `X-ASSET-URI`, a
/// vendor's `X-COM-EXAMPLE-URI`): an attribute that holds a URI a player
/// may fetch, on any tag.
fn is_uri_name(name: &[u8]) -> bool {
    name == b"URI" || name.ends_with(b"-URI")
}

/// Spaces and tabs: allowed around a URI line and around `=` and `,`.
fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Blanks plus the CR of a CRLF line end.
fn is_trailing_blank(b: u8) -> bool {
    is_blank(b) || b == b'\r'
}

/// `start..end` without leading blanks and trailing blanks/CRs.
fn trim(bytes: &[u8], mut start: usize, mut end: usize) -> (usize, usize) {
    while start < end && bytes.get(start).is_some_and(|&b| is_blank(b)) {
        start += 1;
    }
    while end > start && bytes.get(end - 1).is_some_and(|&b| is_trailing_blank(b)) {
        end -= 1;
    }
    (start, end)
}

/// The attribute list of one tag of interest.
struct Attributes<'a> {
    bytes: &'a [u8],
    line: usize,
    tag: &'static str,
    wanted: &'static [&'static str],
}

impl Attributes<'_> {
    fn malformed(&self, reason: &'static str) -> ScanError {
        ScanError::MalformedAttributes {
            line: self.line,
            tag: self.tag,
            reason,
        }
    }

    fn at(&self, i: usize) -> Option<u8> {
        self.bytes.get(i).copied()
    }

    /// Parses `bytes[i..end]` as `NAME=value` pairs separated by commas and
    /// pushes the quoted values of the wanted attributes. `end` is the end of
    /// the trimmed line, so the list holds no line break.
    fn scan(&self, mut i: usize, end: usize, out: &mut Vec<UriRef>) -> Result<(), ScanError> {
        let skip_blanks = |mut i: usize| {
            while i < end && self.at(i).is_some_and(is_blank) {
                i += 1;
            }
            i
        };
        // The first empty URI attribute, reported once the whole list is read
        // (it is not an error in a key with METHOD=NONE, wherever METHOD is).
        let mut empty: Option<&'static str> = None;
        let mut method_none = false;
        loop {
            i = skip_blanks(i);
            if i >= end {
                break;
            }
            if self.at(i) == Some(b',') {
                i += 1; // empty entry: ",," or a trailing comma
                continue;
            }

            // NAME, up to '='.
            let name_start = i;
            while i < end && !matches!(self.at(i), Some(b'=' | b',' | b'"')) {
                i += 1;
            }
            match self.at(i) {
                Some(b'=') if i < end => {}
                Some(b'"') if i < end => return Err(self.malformed("quote in an attribute name")),
                _ => return Err(self.malformed("attribute without '='")),
            }
            let (name_start, name_end) = trim(self.bytes, name_start, i);
            let name = self.bytes.get(name_start..name_end).unwrap_or_default();
            if name.is_empty() {
                return Err(self.malformed("attribute without a name"));
            }
            let listed = self.wanted.iter().copied().find(|a| a.as_bytes() == name);
            let carrier = match listed {
                Some(attribute) => Some(Carrier::Attribute {
                    tag: self.tag,
                    attribute,
                }),
                None if is_uri_name(name) => Some(Carrier::OtherAttribute),
                None => None,
            };
            let attribute = listed.or(carrier.map(|_| "URI"));
            i = skip_blanks(i + 1);

            if i < end && self.at(i) == Some(b'"') {
                // Quoted string: no escapes, ends at the next quote.
                let value_start = i + 1;
                let len = self
                    .bytes
                    .get(value_start..end)
                    .and_then(|v| v.iter().position(|&b| b == b'"'))
                    .ok_or_else(|| self.malformed("unterminated quoted string"))?;
                let value_end = value_start + len;
                if let (Some(attribute), Some(carrier)) = (attribute, carrier) {
                    let value = self.bytes.get(value_start..value_end).unwrap_or_default();
                    if value.iter().all(|&b| is_blank(b)) {
                        empty = empty.or(Some(attribute));
                    } else {
                        out.push(UriRef {
                            range: value_start..value_end,
                            carrier,
                            line: self.line,
                        });
                    }
                }
                i = skip_blanks(value_end + 1);
                if i < end && self.at(i) != Some(b',') {
                    return Err(self.malformed("text after a quoted string"));
                }
                i += 1;
            } else {
                if listed.is_some() {
                    return Err(self.malformed("URI must be a quoted string"));
                }
                // Unquoted token, up to the next comma. A stray quote in it is
                // ordinary text (as in hls.js): only a value that *starts*
                // with a quote is a quoted string.
                let value_start = i;
                while i < end && self.at(i) != Some(b',') {
                    i += 1;
                }
                if name == b"METHOD" && self.is_key() {
                    let (s, e) = trim(self.bytes, value_start, i);
                    method_none = self.bytes.get(s..e) == Some(b"NONE".as_slice());
                }
                i += 1;
            }
        }
        match empty {
            Some(attribute) if !method_none => Err(ScanError::EmptyUri {
                line: self.line,
                tag: self.tag,
                attribute,
            }),
            _ => Ok(()),
        }
    }

    /// `EXT-X-KEY` or `EXT-X-SESSION-KEY`, whose `METHOD=NONE` means no key
    /// is fetched.
    fn is_key(&self) -> bool {
        self.tag == "EXT-X-KEY" || self.tag == "EXT-X-SESSION-KEY"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn attr(tag: &'static str, attribute: &'static str) -> Carrier {
        Carrier::Attribute { tag, attribute }
    }

    /// `(text, carrier, line)` for each URI found.
    fn found(p: &str) -> Vec<(&str, Carrier, usize)> {
        scan(p)
            .unwrap_or_else(|e| panic!("scan failed: {e}\n{p}"))
            .into_iter()
            .map(|u| (&p[u.range], u.carrier, u.line))
            .collect()
    }

    use Carrier::{Segment, VariantStream};

    #[test]
    fn media_playlist_segments() {
        let p = "#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:9.9,\nseg0.ts\n#EXTINF:9.9,title\nhttps://cdn.example.com/a/seg1.ts?x=1\n#EXT-X-ENDLIST\n";
        assert_eq!(
            found(p),
            [
                ("seg0.ts", Segment, 4),
                ("https://cdn.example.com/a/seg1.ts?x=1", Segment, 6)
            ]
        );
    }

    #[test]
    fn multivariant_playlist() {
        let p = "#EXTM3U\n\
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aac\",NAME=\"en\",URI=\"audio/en.m3u8\"\n\
#EXT-X-MEDIA:TYPE=CLOSED-CAPTIONS,GROUP-ID=\"cc\",NAME=\"en\",INSTREAM-ID=\"CC1\"\n\
#EXT-X-STREAM-INF:BANDWIDTH=1280000,CODECS=\"avc1.4d401f,mp4a.40.2\",AUDIO=\"aac\"\n\
low/index.m3u8\n\
#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=86000,URI=\"low/iframe.m3u8\"\n\
#EXT-X-STREAM-INF:BANDWIDTH=2560000\n\
mid/index.m3u8\n";
        assert_eq!(
            found(p),
            [
                ("audio/en.m3u8", attr("EXT-X-MEDIA", "URI"), 2),
                ("low/index.m3u8", VariantStream, 5),
                (
                    "low/iframe.m3u8",
                    attr("EXT-X-I-FRAME-STREAM-INF", "URI"),
                    6
                ),
                ("mid/index.m3u8", VariantStream, 8),
            ]
        );
    }

    #[test]
    fn every_attribute_carrier() {
        let p = r#"#EXTM3U
#EXT-X-CONTENT-STEERING:SERVER-URI="/steer?v=1",PATHWAY-ID="CDN"
#EXT-X-SESSION-DATA:DATA-ID="com.example.x",URI="data.json"
#EXT-X-SESSION-KEY:METHOD=SAMPLE-AES,URI="skd://key1",KEYFORMAT="com.apple.streamingkeydelivery"
#EXT-X-IMAGE-STREAM-INF:BANDWIDTH=1,RESOLUTION=320x180,CODECS="jpeg",URI="img.m3u8"
#EXT-X-KEY:METHOD=AES-128,URI="key.bin",IV=0x1234
#EXT-X-MAP:URI="init.mp4",BYTERANGE="700@0"
#EXT-X-DATERANGE:ID="ad",CLASS="com.apple.hls.interstitial",START-DATE="2024-01-01T00:00:00Z",X-ASSET-URI="ad.m3u8",X-ASSET-LIST="list.json",X-URI="x.html"
#EXTINF:4,
seg.mp4
#EXT-X-PART:DURATION=1,URI="part.mp4",INDEPENDENT=YES
#EXT-X-PRELOAD-HINT:TYPE=PART,URI="next.mp4"
#EXT-X-RENDITION-REPORT:URI="../other.m3u8",LAST-MSN=3
"#;
        assert_eq!(
            found(p),
            [
                (
                    "/steer?v=1",
                    attr("EXT-X-CONTENT-STEERING", "SERVER-URI"),
                    2
                ),
                ("data.json", attr("EXT-X-SESSION-DATA", "URI"), 3),
                ("skd://key1", attr("EXT-X-SESSION-KEY", "URI"), 4),
                ("img.m3u8", attr("EXT-X-IMAGE-STREAM-INF", "URI"), 5),
                ("key.bin", attr("EXT-X-KEY", "URI"), 6),
                ("init.mp4", attr("EXT-X-MAP", "URI"), 7),
                ("ad.m3u8", attr("EXT-X-DATERANGE", "X-ASSET-URI"), 8),
                ("list.json", attr("EXT-X-DATERANGE", "X-ASSET-LIST"), 8),
                ("x.html", attr("EXT-X-DATERANGE", "X-URI"), 8),
                ("seg.mp4", Segment, 10),
                ("part.mp4", attr("EXT-X-PART", "URI"), 11),
                ("next.mp4", attr("EXT-X-PRELOAD-HINT", "URI"), 12),
                ("../other.m3u8", attr("EXT-X-RENDITION-REPORT", "URI"), 13),
            ]
        );
    }

    #[test]
    fn image_stream_inf_with_uri_on_next_line() {
        let p = "#EXTM3U\n#EXT-X-IMAGE-STREAM-INF:BANDWIDTH=1,RESOLUTION=320x180\nimages.m3u8\n";
        assert_eq!(found(p), [("images.m3u8", VariantStream, 3)]);
    }

    #[test]
    fn crlf_lines() {
        let p = "#EXTM3U\r\n#EXT-X-KEY:METHOD=AES-128,URI=\"k\"\r\n#EXTINF:1,\r\na.ts\r\n\r\n#EXT-X-STREAM-INF:BANDWIDTH=1\r\nv.m3u8\r\n";
        assert_eq!(
            found(p),
            [
                ("k", attr("EXT-X-KEY", "URI"), 2),
                ("a.ts", Segment, 4),
                ("v.m3u8", VariantStream, 7)
            ]
        );
    }

    #[test]
    fn bom_counts_in_offsets() {
        let p = "\u{FEFF}#EXTM3U\n#EXTINF:1,\na.ts\n";
        let refs = scan(p).unwrap();
        assert_eq!(refs.len(), 1);
        assert_eq!(refs[0].range, p.find("a.ts").unwrap()..p.len() - 1);
        assert_eq!(refs[0].line, 3);
        assert!(is_playlist(p));
        // A BOM anywhere but the start is not skipped.
        assert_eq!(scan(" \u{FEFF}#EXTM3U\n"), Err(ScanError::NotAPlaylist));
        assert_eq!(
            scan("\u{FEFF}\u{FEFF}#EXTM3U\n"),
            Err(ScanError::NotAPlaylist)
        );
    }

    #[test]
    fn missing_final_newline() {
        assert_eq!(found("#EXTM3U\n#EXTINF:1,\na.ts"), [("a.ts", Segment, 3)]);
        assert_eq!(found("#EXTM3U\n#EXTINF:1,\na.ts\r"), [("a.ts", Segment, 3)]);
        assert_eq!(
            found("#EXTM3U\n#EXT-X-MAP:URI=\"i.mp4\""),
            [("i.mp4", attr("EXT-X-MAP", "URI"), 2)]
        );
        assert_eq!(found("#EXTM3U"), []);
        assert_eq!(found("#EXTM3U\r\n"), []);
    }

    #[test]
    fn whitespace_around_uri_lines_and_blank_lines() {
        let p = "#EXTM3U \t\r\n\n   \n\t\r\n#EXTINF:1,\n  \ta b.ts \t\r\n \r\n";
        let refs = scan(p).unwrap();
        assert_eq!(refs.len(), 1);
        assert_eq!(&p[refs[0].range.clone()], "a b.ts");
        assert_eq!(refs[0].line, 6);
    }

    #[test]
    fn indented_tags_and_comments_are_not_uris() {
        let p = "#EXTM3U\n  # a comment\n\t#EXT-X-KEY:METHOD=AES-128,URI=\"k\"\n#EXTINF:1,\nx.ts\n";
        assert_eq!(
            found(p),
            [("k", attr("EXT-X-KEY", "URI"), 3), ("x.ts", Segment, 5)]
        );
    }

    #[test]
    fn comments_do_not_break_stream_inf() {
        let p = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n\n# comment\n#EXT-looks-like-a-comment\nv.m3u8\n";
        // "#EXT-looks..." starts with "#EXT", so it is an (unknown) tag; an
        // unknown tag does not break the link either (RFC 8216: ignore it).
        assert_eq!(found(p), [("v.m3u8", VariantStream, 6)]);
        let p = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n# just a comment\n\nv.m3u8\nw.m3u8\n";
        assert_eq!(
            found(p),
            [("v.m3u8", VariantStream, 5), ("w.m3u8", Segment, 6)]
        );
    }

    #[test]
    fn stream_inf_link_rules() {
        // An unknown tag between EXT-X-STREAM-INF and its URI is ignored.
        let p = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n#EXT-X-VENDOR-THING:A=1\nv.m3u8\n";
        assert_eq!(found(p), [("v.m3u8", VariantStream, 4)]);
        // EXTINF announces a media segment and breaks the link.
        let p = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n#EXTINF:1,\nseg.ts\n";
        assert_eq!(found(p), [("seg.ts", Segment, 4)]);
        // The I-FRAME tag carries its URI as an attribute; it is not a variant
        // URI line tag.
        let p = "#EXTM3U\n#EXT-X-I-FRAME-STREAM-INF:URI=\"i.m3u8\"\nx.ts\n";
        assert_eq!(
            found(p),
            [
                ("i.m3u8", attr("EXT-X-I-FRAME-STREAM-INF", "URI"), 2),
                ("x.ts", Segment, 3)
            ]
        );
        // EXT-X-STREAM-INF's attributes are read leniently: a URI attribute
        // is reported (Comcast mamba's SAP master writes one), a list that
        // does not split is left alone.
        let p = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,URI=\"x\"\n";
        assert_eq!(found(p), [("x", Carrier::OtherAttribute, 2)]);
        let p = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,URI=\"x\",BROKEN=\"\n";
        assert_eq!(found(p), []);
        // Without a colon, still the tag.
        let p = "#EXTM3U\n#EXT-X-STREAM-INF\nv.m3u8\n";
        assert_eq!(found(p), [("v.m3u8", VariantStream, 3)]);
    }

    #[test]
    fn unknown_tags_yield_uri_attributes_when_they_split() {
        // Lists that do not split with certainty are left alone, never an error.
        let p = "#EXTM3U\n#EXT-X-FOO:URI=\"a\n#EXT-X-BAR:URI=unquoted,URI=\"\"\n#EXTINF:1,title \"with quote\nx.ts\n";
        assert_eq!(found(p), [("x.ts", Segment, 5)]);
        // A quoted URI or *-URI on any other tag is a URI.
        let p = "#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:URI=\"m\"\n#EXT-X-KEYFORMAT:URI=\"k\"\n#EXT-X-VENDOR-THING:ID=1,X-COM-EXAMPLE-URI=\"v.json\",X-URIS=\"no\"\n#EXT-X-MAPS:NAME=\"no\"\nx.ts\n";
        assert_eq!(
            found(p),
            [
                ("m", Carrier::OtherAttribute, 2),
                ("k", Carrier::OtherAttribute, 3),
                ("v.json", Carrier::OtherAttribute, 4),
                ("x.ts", Segment, 6)
            ]
        );
    }

    #[test]
    fn tag_name_must_match_exactly() {
        let p = "#EXTM3U\n#ext-x-key:URI=\"a\"\n#EXT-X-KEY :URI=\"b\"\n# EXT-X-KEY:URI=\"c\"\n#EXT-X-KEY:URI=\"d\"\n";
        // `EXT-X-KEY ` is another tag (its URI is still one); lowercase and
        // `# EXT` are comments.
        assert_eq!(
            found(p),
            [
                ("b", Carrier::OtherAttribute, 3),
                ("d", attr("EXT-X-KEY", "URI"), 5)
            ]
        );
    }

    #[test]
    fn attribute_names_match_exactly() {
        let p = r#"#EXTM3U
#EXT-X-DATERANGE:ID="a",X-URI-FOO="no1",X-ASSET-URIS="no2",X-URI="yes1",URI="no3"
#EXT-X-KEY:METHOD=AES-128,X-URI="no4",URIX="no5",uri="no6",Uri="no7",URI="yes2"
#EXT-X-CONTENT-STEERING:URI="no8",SERVER-URI="yes3"
"#;
        // Exactly `URI` or a name ending in `-URI`, on any tag: `no3`, `no4`
        // and `no8` are URIs too, as issued for a tag's unlisted attributes.
        assert_eq!(
            found(p),
            [
                ("yes1", attr("EXT-X-DATERANGE", "X-URI"), 2),
                ("no3", Carrier::OtherAttribute, 2),
                ("no4", Carrier::OtherAttribute, 3),
                ("yes2", attr("EXT-X-KEY", "URI"), 3),
                ("no8", Carrier::OtherAttribute, 4),
                ("yes3", attr("EXT-X-CONTENT-STEERING", "SERVER-URI"), 4),
            ]
        );
    }

    #[test]
    fn lowercase_attribute_is_not_the_attribute_even_unquoted() {
        let p = "#EXTM3U\n#EXT-X-MAP:uri=init.mp4\n";
        assert_eq!(found(p), []);
    }

    #[test]
    fn quoted_values_may_hold_commas_and_equals() {
        let p = r#"#EXTM3U
#EXT-X-MEDIA:TYPE=AUDIO,NAME="a, b=c",URI="x,y=z.m3u8?a=1,2",CHARACTERISTICS="p,q"
#EXT-X-KEY:METHOD=SAMPLE-AES,URI="data:text/plain;base64,AAAA==",KEYFORMAT="identity"
"#;
        assert_eq!(
            found(p),
            [
                ("x,y=z.m3u8?a=1,2", attr("EXT-X-MEDIA", "URI"), 2),
                ("data:text/plain;base64,AAAA==", attr("EXT-X-KEY", "URI"), 3),
            ]
        );
    }

    #[test]
    fn whitespace_inside_attribute_lists() {
        let p = "#EXTM3U\n#EXT-X-KEY:METHOD=AES-128, URI = \"k1\" ,IV=0x1\n#EXT-X-MAP:\tURI=\"i.mp4\"\t\r\n#EXT-X-KEY: METHOD=NONE ,\n";
        assert_eq!(
            found(p),
            [
                ("k1", attr("EXT-X-KEY", "URI"), 2),
                ("i.mp4", attr("EXT-X-MAP", "URI"), 3)
            ]
        );
        // Spaces inside the quotes belong to the value.
        let p = "#EXTM3U\n#EXT-X-MAP:URI=\" i.mp4 \"\n";
        assert_eq!(found(p), [(" i.mp4 ", attr("EXT-X-MAP", "URI"), 2)]);
    }

    #[test]
    fn empty_entries_and_missing_uri_are_fine() {
        let p = "#EXTM3U\n#EXT-X-KEY:METHOD=NONE\n#EXT-X-KEY:,,METHOD=AES-128,,URI=\"k\",\n#EXT-X-MAP\n#EXT-X-MAP:\n#EXT-X-MEDIA:TYPE=CLOSED-CAPTIONS,GROUP-ID=\"cc\"\n";
        assert_eq!(found(p), [("k", attr("EXT-X-KEY", "URI"), 3)]);
    }

    #[test]
    fn stray_quote_in_unquoted_value_is_text() {
        let p = "#EXTM3U\n#EXT-X-KEY:METHOD=SAMPLE-AES,IV=00ff\",URI=\"https://k/1\"\n#EXT-X-DATERANGE:ID=\"a\",DURATION=14.6\",X-ASSET-URI=\"ad.m3u8\"\n";
        assert_eq!(
            found(p),
            [
                ("https://k/1", attr("EXT-X-KEY", "URI"), 2),
                ("ad.m3u8", attr("EXT-X-DATERANGE", "X-ASSET-URI"), 3)
            ]
        );
    }

    #[test]
    fn empty_key_uri_with_method_none_is_skipped() {
        for p in [
            "#EXTM3U\n#EXT-X-KEY:METHOD=NONE,URI=\"\"\n",
            "#EXTM3U\n#EXT-X-KEY:URI=\"\", METHOD = NONE \n",
            "#EXTM3U\n#EXT-X-SESSION-KEY:METHOD=NONE,URI=\" \"\n",
        ] {
            assert_eq!(scan(p), Ok(vec![]), "{p:?}");
        }
        // A non-empty URI is still reported.
        assert_eq!(
            found("#EXTM3U\n#EXT-X-KEY:METHOD=NONE,URI=\"k\"\n"),
            [("k", attr("EXT-X-KEY", "URI"), 2)]
        );
        // Only for keys, and only for NONE.
        for (p, tag) in [
            ("#EXTM3U\n#EXT-X-KEY:METHOD=AES-128,URI=\"\"\n", "EXT-X-KEY"),
            (
                "#EXTM3U\n#EXT-X-KEY:METHOD=\"NONE\",URI=\"\"\n",
                "EXT-X-KEY",
            ),
            ("#EXTM3U\n#EXT-X-KEY:URI=\"\"\n", "EXT-X-KEY"),
            ("#EXTM3U\n#EXT-X-MAP:METHOD=NONE,URI=\"\"\n", "EXT-X-MAP"),
        ] {
            let err = ScanError::EmptyUri {
                line: 2,
                tag,
                attribute: "URI",
            };
            assert_eq!(scan(p), Err(err), "{p:?}");
        }
    }

    #[test]
    fn duplicate_attribute_reports_both() {
        let p = "#EXTM3U\n#EXT-X-MAP:URI=\"a\",URI=\"b\"\n";
        assert_eq!(
            found(p),
            [
                ("a", attr("EXT-X-MAP", "URI"), 2),
                ("b", attr("EXT-X-MAP", "URI"), 2)
            ]
        );
    }

    #[test]
    fn non_ascii_text() {
        let p = "#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO,NAME=\"Français\",URI=\"audio/fr-é.m3u8\"\n#EXTINF:1,日本\n  セグメント.ts  \n";
        assert_eq!(
            found(p),
            [
                ("audio/fr-é.m3u8", attr("EXT-X-MEDIA", "URI"), 2),
                ("セグメント.ts", Segment, 4)
            ]
        );
    }

    #[test]
    fn not_a_playlist() {
        for p in [
            "",
            "\n#EXTM3U\n",
            " #EXTM3U\n",
            "#EXTM3",
            "#extm3u\n",
            "#EXTM3UX\n",
            "#EXTM3U x-tvg-url=\"a\"\n",
            "# comment\n#EXTM3U\n",
            "#EXT-X-STREAM-INF:BANDWIDTH=1\nv.m3u8\n",
            "\u{FEFF}",
            "{\"json\":true}",
        ] {
            assert_eq!(scan(p), Err(ScanError::NotAPlaylist), "{p:?}");
            assert!(!is_playlist(p), "{p:?}");
        }
        for p in [
            "#EXTM3U",
            "#EXTM3U\n",
            "#EXTM3U \t\r\n",
            "\u{FEFF}#EXTM3U\r\n",
        ] {
            assert!(is_playlist(p), "{p:?}");
            assert_eq!(scan(p), Ok(vec![]), "{p:?}");
        }
    }

    fn malformed(line: usize, tag: &'static str, reason: &'static str) -> ScanError {
        ScanError::MalformedAttributes { line, tag, reason }
    }

    #[test]
    fn malformed_attribute_lists() {
        let cases: &[(&str, ScanError)] = &[
            (
                "#EXT-X-KEY:METHOD=AES-128,URI=key.bin",
                malformed(2, "EXT-X-KEY", "URI must be a quoted string"),
            ),
            (
                "#EXT-X-MAP:URI=",
                malformed(2, "EXT-X-MAP", "URI must be a quoted string"),
            ),
            (
                "#EXT-X-DATERANGE:ID=\"a\",X-ASSET-URI=ad.m3u8",
                malformed(2, "EXT-X-DATERANGE", "URI must be a quoted string"),
            ),
            (
                "#EXT-X-KEY:METHOD=AES-128,URI=\"key.bin",
                malformed(2, "EXT-X-KEY", "unterminated quoted string"),
            ),
            // An unterminated quote in an attribute we don't want still makes
            // the rest of the list unreadable.
            (
                "#EXT-X-MEDIA:NAME=\"x,URI=\"a.m3u8\"",
                malformed(2, "EXT-X-MEDIA", "text after a quoted string"),
            ),
            (
                "#EXT-X-MEDIA:NAME=\"x,URI=a.m3u8",
                malformed(2, "EXT-X-MEDIA", "unterminated quoted string"),
            ),
            (
                "#EXT-X-MAP:URI=\"a\"b",
                malformed(2, "EXT-X-MAP", "text after a quoted string"),
            ),
            (
                "#EXT-X-MAP:BYTERANGE,URI=\"a\"",
                malformed(2, "EXT-X-MAP", "attribute without '='"),
            ),
            (
                "#EXT-X-MAP:=1,URI=\"a\"",
                malformed(2, "EXT-X-MAP", "attribute without a name"),
            ),
            (
                "#EXT-X-MAP:\"URI\"=\"a\"",
                malformed(2, "EXT-X-MAP", "quote in an attribute name"),
            ),
            // A tag broken over two lines inside a quoted string.
            (
                "#EXT-X-MEDIA:TYPE=SUBTITLES,URI=\"s\nubtitles.m3u8\"",
                malformed(2, "EXT-X-MEDIA", "unterminated quoted string"),
            ),
        ];
        for (tag_line, err) in cases {
            for eol in ["", "\n", "\r\n"] {
                let p = format!("#EXTM3U\n{tag_line}{eol}");
                assert_eq!(scan(&p).as_ref(), Err(err), "{p:?}");
            }
        }
    }

    #[test]
    fn empty_uri() {
        for (p, line, tag, attribute) in [
            (
                "#EXTM3U\n#EXT-X-KEY:METHOD=AES-128,URI=\"\"\n",
                2,
                "EXT-X-KEY",
                "URI",
            ),
            ("#EXTM3U\n\n#EXT-X-MAP:URI=\"  \"\n", 3, "EXT-X-MAP", "URI"),
            (
                "#EXTM3U\n#EXT-X-CONTENT-STEERING:SERVER-URI=\"\"",
                2,
                "EXT-X-CONTENT-STEERING",
                "SERVER-URI",
            ),
        ] {
            let err = ScanError::EmptyUri {
                line,
                tag,
                attribute,
            };
            assert_eq!(scan(p), Err(err), "{p:?}");
        }
        // Empty values of other attributes are fine.
        assert_eq!(found("#EXTM3U\n#EXT-X-MAP:X=\"\",URI=\"i\"\n").len(), 1);
    }

    #[test]
    fn error_messages() {
        assert_eq!(
            malformed(3, "EXT-X-KEY", "unterminated quoted string").to_string(),
            "line 3: EXT-X-KEY has a malformed attribute list (unterminated quoted string)"
        );
        let e = ScanError::EmptyUri {
            line: 2,
            tag: "EXT-X-MAP",
            attribute: "URI",
        };
        assert_eq!(
            e.to_string(),
            "line 2: EXT-X-MAP has an empty URI attribute"
        );
    }

    #[test]
    fn splicing_ranges_is_lossless() {
        let p = "\u{FEFF}#EXTM3U\r\n#EXT-X-VERSION:7\r\n# keep me\r\n#EXT-X-MAP:URI=\"init.mp4\"\r\n#EXTINF:2.0,\r\n  seg-1.m4s \r\n#EXT-X-ENDLIST";
        let refs = scan(p).unwrap();
        let mut rebuilt = String::new();
        let mut at = 0;
        for r in &refs {
            rebuilt.push_str(&p[at..r.range.start]);
            rebuilt.push_str("NEW");
            at = r.range.end;
        }
        rebuilt.push_str(&p[at..]);
        assert_eq!(
            rebuilt,
            "\u{FEFF}#EXTM3U\r\n#EXT-X-VERSION:7\r\n# keep me\r\n#EXT-X-MAP:URI=\"NEW\"\r\n#EXTINF:2.0,\r\n  NEW \r\n#EXT-X-ENDLIST"
        );
    }

    #[test]
    fn large_playlist() {
        let mut p = String::from("#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXT-X-MAP:URI=\"init.mp4\"\n");
        for i in 0..10_000 {
            p.push_str(&format!(
                "#EXTINF:6.006,\n#EXT-X-BYTERANGE:1000@{i}\nsegments/2024/segment-{i:05}.m4s\n"
            ));
        }
        p.push_str("#EXT-X-ENDLIST\n");
        let t = std::time::Instant::now();
        let refs = scan(&p).unwrap();
        let elapsed = t.elapsed();
        assert_eq!(refs.len(), 10_001);
        println!("10,000 segments ({} bytes) scanned in {elapsed:?}", p.len());
    }

    // ---- invariants, checked by every scan in the tests below ----

    /// What must hold for any successful scan.
    fn check_invariants(p: &str, refs: &[UriRef]) {
        let mut prev_end = 0;
        let (mut line, mut counted_to) = (1, 0);
        for r in refs {
            assert!(r.range.start < r.range.end, "empty range {r:?}");
            assert!(r.range.end <= p.len(), "out of bounds {r:?}");
            assert!(prev_end <= r.range.start, "not increasing {r:?}");
            prev_end = r.range.end;
            assert!(p.is_char_boundary(r.range.start) && p.is_char_boundary(r.range.end));
            let text = &p[r.range.clone()];
            assert!(!text.contains('\n'), "{r:?}");
            line += p[counted_to..r.range.start].matches('\n').count();
            counted_to = r.range.start;
            assert_eq!(line, r.line, "{r:?}");
            match r.carrier {
                Carrier::Attribute { .. } | Carrier::OtherAttribute => {
                    assert_eq!(p.as_bytes()[r.range.start - 1], b'"');
                    assert_eq!(p.as_bytes().get(r.range.end), Some(&b'"'));
                    assert!(!text.contains('"'));
                }
                Carrier::Segment | Carrier::VariantStream => {
                    assert!(!text.starts_with([' ', '\t', '#']), "{r:?}");
                    assert!(!text.ends_with([' ', '\t', '\r']), "{r:?}");
                }
            }
        }
    }

    // ---- corpus ----

    /// Files in the corpus that are not playlists by the RFC 8216 rule "the
    /// EXTM3U tag MUST be the first line", checked by hand.
    const NOT_PLAYLISTS: &[(&str, &str)] = &[
        ("SOURCES.txt", "corpus notes"),
        ("globocom-m3u8/playlists_py/SOURCES.json", "corpus notes"),
        ("grafov-m3u8/other-refs/SOURCES.tsv", "corpus notes"),
        (
            "globocom-m3u8/playlists_py/fragments/variant_playlist_with_iframe_stable_variant_id.m3u8",
            "a fragment: starts at #EXT-X-I-FRAME-STREAM-INF, no #EXTM3U",
        ),
        (
            "globocom-m3u8/playlists_py/fragments/variant_playlist_with_stable_rendition_id.m3u8",
            "a fragment: starts at #EXT-X-MEDIA, no #EXTM3U",
        ),
        (
            "globocom-m3u8/playlists_py/fragments/variant_playlist_with_stable_variant_id.m3u8",
            "a fragment: starts at #EXT-X-STREAM-INF, no #EXTM3U",
        ),
        // The next four start with two `#` comment lines (a link to Apple's
        // documentation) before #EXTM3U.
        ("eyevinn-hls-m3u8/m3u8/sample-playlists/master-with-hlsv7.m3u8", "comment before #EXTM3U"),
        (
            "eyevinn-hls-m3u8/m3u8/sample-playlists/media-playlist-with-discontinuity.m3u8",
            "comment before #EXTM3U",
        ),
        ("grafov-m3u8/master/sample-playlists/master-with-hlsv7.m3u8", "comment before #EXTM3U"),
        (
            "grafov-m3u8/master/sample-playlists/media-playlist-with-discontinuity.m3u8",
            "comment before #EXTM3U",
        ),
        (
            "grafov-m3u8/other-refs/sample-playlists/master-with-hlsv7-dolby-profile8.m3u8",
            "comment before #EXTM3U",
        ),
    ];

    /// Playlists in the corpus that the scanner rejects, each inspected by
    /// hand: (file, expected error, why it really is malformed).
    const EXPECTED_ERRORS: &[(&str, &str, &str)] = &[(
        "grafov-m3u8/other-refs/sample-playlists/master-with-framerate.m3u8",
        "line 3: EXT-X-MEDIA has a malformed attribute list (unterminated quoted string)",
        // The file is hard-wrapped: `URI="s` ends line 3 and `ubtitles.m3u8"`
        // is line 4 (likewise `INSTREAM-ID` / `="CC1"` on lines 5-6). A tag is
        // one line, so a player would read `ubtitles.m3u8"` as a URI line;
        // guessing is worse than refusing.
        "tag wrapped over two lines",
    )];

    fn walk(dir: &std::path::Path, files: &mut Vec<std::path::PathBuf>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                walk(&path, files);
            } else {
                files.push(path);
            }
        }
    }

    /// Independent, simple check: the lines of `p` that hold `ATTR="` for an
    /// attribute of interest of their tag.
    fn lines_with_uri_attributes(p: &str) -> Vec<usize> {
        let mut lines = Vec::new();
        for (n, l) in p.split('\n').enumerate() {
            let l = l.trim();
            for (tag, attrs) in URI_ATTRIBUTES {
                let Some(rest) = l.strip_prefix('#').and_then(|l| l.strip_prefix(tag)) else {
                    continue;
                };
                if !rest.starts_with(':') {
                    continue;
                }
                // `ATTR="` right after the colon or a comma, with a non-empty
                // value (an empty one is an error or, for METHOD=NONE keys,
                // deliberately skipped).
                let hit = attrs.iter().any(|a| {
                    [":", ",", ", "].iter().any(|sep| {
                        let needle = format!("{sep}{a}=\"");
                        rest.match_indices(&needle)
                            .any(|(i, _)| !rest[i + needle.len()..].starts_with('"'))
                    })
                });
                if hit {
                    lines.push(n + 1);
                }
            }
        }
        lines
    }

    #[test]
    fn corpus() {
        let root = std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/testdata/hls-corpus"
        ));
        if !root.is_dir() {
            println!("skipped: ../shared/testdata/hls-corpus not found");
            return;
        }
        let mut files = Vec::new();
        walk(root, &mut files);

        let (mut playlists, mut uris) = (0, 0);
        let (mut segments, mut variants, mut attributes) = (0, 0, 0);
        let mut not_playlists = Vec::new();
        let mut errors = Vec::new();
        for path in &files {
            let name = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            let bytes = std::fs::read(path).unwrap();
            let Ok(p) = std::str::from_utf8(&bytes) else {
                panic!("{name}: not UTF-8");
            };
            let result = scan(p);
            let first_line = p.strip_prefix('\u{FEFF}').unwrap_or(p).split('\n').next();
            if first_line.map(str::trim_end) != Some("#EXTM3U") {
                assert_eq!(result, Err(ScanError::NotAPlaylist), "{name}");
                not_playlists.push(name);
                continue;
            }
            playlists += 1;
            let refs = match result {
                Ok(refs) => refs,
                Err(e) => {
                    println!("error: {name}: {e}");
                    errors.push((name, e.to_string()));
                    continue;
                }
            };
            check_invariants(p, &refs);
            uris += refs.len();
            for r in &refs {
                match r.carrier {
                    Segment => segments += 1,
                    VariantStream => variants += 1,
                    Carrier::Attribute { .. } | Carrier::OtherAttribute => attributes += 1,
                }
            }
            // Every line with a URI attribute of interest yields a UriRef.
            for line in lines_with_uri_attributes(p) {
                assert!(
                    refs.iter().any(|r| r.line == line
                        && matches!(
                            r.carrier,
                            Carrier::Attribute { .. } | Carrier::OtherAttribute
                        )),
                    "{name}:{line}: URI attribute not found"
                );
            }
            // Every non-blank line not starting with '#' is a bare URI.
            let bare = p
                .split('\n')
                .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
                .count();
            let found_bare = refs
                .iter()
                .filter(|r| matches!(r.carrier, Segment | VariantStream))
                .count();
            assert_eq!(bare, found_bare, "{name}: bare URI lines");
        }
        println!(
            "corpus: {} files, {playlists} playlists, {} not playlists, {} errors; \
             {uris} URIs ({segments} segments, {variants} variant streams, {attributes} attributes)",
            files.len(),
            not_playlists.len(),
            errors.len()
        );
        for n in &not_playlists {
            println!("not a playlist: {n}");
        }

        let mut expected_not: Vec<_> = NOT_PLAYLISTS.iter().map(|(n, _)| n.to_string()).collect();
        expected_not.sort();
        not_playlists.sort();
        assert_eq!(
            not_playlists, expected_not,
            "non-playlists changed; inspect them"
        );
        let expected_errors: Vec<_> = EXPECTED_ERRORS
            .iter()
            .map(|(n, e, _)| (n.to_string(), e.to_string()))
            .collect();
        assert_eq!(
            errors, expected_errors,
            "erroring playlists changed; inspect them"
        );
        assert!(
            playlists > 200 && uris > 10_000,
            "corpus smaller than expected"
        );
    }

    // ---- property tests ----

    /// Fragments biased towards what the scanner looks at.
    const PIECES: &[&str] = &[
        "\n",
        "\r\n",
        "\r",
        " ",
        "\t",
        "#",
        "#EXT",
        "#EXTINF:1,",
        "#EXT-X-KEY:",
        "#EXT-X-MAP:",
        "#EXT-X-DATERANGE:",
        "#EXT-X-STREAM-INF:",
        "#EXT-X-IMAGE-STREAM-INF:",
        "#EXT-X-MEDIA:",
        "#EXT-X-MEDIA-SEQUENCE:",
        "URI=",
        "X-URI=",
        "SERVER-URI",
        "=",
        ",",
        "\"",
        "a",
        "b.ts",
        "é",
        "日本",
        "\u{FEFF}",
        "\0",
        "x=y",
        "URI=\"u\"",
        "URI=\"\"",
    ];

    #[derive(Clone, Debug)]
    enum Item {
        Segment {
            uri: String,
            lead: &'static str,
            trail: &'static str,
        },
        /// STREAM-INF (or IMAGE-STREAM-INF), optional ignorable lines, URI line.
        Variant {
            image: bool,
            between: Vec<&'static str>,
            uri: String,
        },
        /// A tag of interest with the wanted attribute at position `at` among
        /// other attributes.
        Tag {
            which: usize,
            attr: usize,
            at: usize,
            others: Vec<&'static str>,
            uri: String,
        },
        /// A tag outside the table carrying a `URI` or `*-URI` attribute.
        OtherTag {
            tag: &'static str,
            attribute: &'static str,
            uri: String,
        },
        Noise(&'static str),
    }

    /// Lines that never carry a URI and do not affect carriers.
    const NOISE: &[&str] = &[
        "",
        "  \t",
        "# comment URI=\"nope\"",
        "#EXT-X-VERSION:7",
        "#EXT-X-MEDIA-SEQUENCE:1",
        "#EXT-X-FOO:NAME=\"unknown\"",
        "#EXT-X-KEYFORMAT:X-URIS=\"no\"",
        "#ext-x-key:URI=\"lower\"",
        "#EXT-X-ENDLIST",
        "#EXT-X-STREAM-INF-X:BANDWIDTH=1",
        "#EXT-X-BROKEN:URI=\"unterminated",
    ];

    /// Other attributes for tags of interest.
    const OTHER_ATTRS: &[&str] = &[
        "METHOD=AES-128",
        "NAME=\"a, b=c\"",
        "X-URI-FOO=\"no\"",
        "uri=\"no\"",
        "IV=0x1234",
        "BANDWIDTH=1",
        "CODECS=\"avc1,mp4a\"",
        " TYPE = AUDIO ",
        "EMPTY=\"\"",
    ];

    fn uri_strategy() -> impl Strategy<Value = String> {
        "[a-zA-Z0-9/._~%:?&=-]{0,12}[a-zA-Z0-9é日]{1,2}[a-zA-Z0-9/._~%:?&=,é -]{0,12}[a-z0-9]"
    }

    fn item_strategy() -> impl Strategy<Value = Item> {
        let bare_uri = "[a-zA-Z0-9/._é日-][a-zA-Z0-9/._~%:?&=,é -]{0,20}[a-z0-9é]";
        prop_oneof![
            (
                bare_uri,
                prop::sample::select(&["", " ", "\t", " \t"][..]),
                prop::sample::select(&["", " ", "\t", "\t "][..])
            )
                .prop_map(|(uri, lead, trail)| Item::Segment { uri, lead, trail }),
            (
                any::<bool>(),
                prop::collection::vec(
                    prop::sample::select(&["", "# c", "#EXT-X-VENDOR:Z=1", " "][..]),
                    0..3
                ),
                bare_uri
            )
                .prop_map(|(image, between, uri)| Item::Variant {
                    image,
                    between,
                    uri
                }),
            (
                0..URI_ATTRIBUTES.len(),
                0..3usize,
                0..4usize,
                prop::collection::vec(prop::sample::select(OTHER_ATTRS), 0..4),
                uri_strategy()
            )
                .prop_map(|(which, attr, at, others, uri)| Item::Tag {
                    which,
                    attr,
                    at,
                    others,
                    uri
                }),
            (
                prop::sample::select(
                    &["EXT-X-VENDOR", "EXT-X-STREAM-INF", "EXT-X-SESSION-NEW"][..]
                ),
                prop::sample::select(&["URI", "X-COM-EXAMPLE-URI", "LOGO-URI"][..]),
                uri_strategy()
            )
                .prop_map(|(tag, attribute, uri)| Item::OtherTag {
                    tag,
                    attribute,
                    uri
                }),
            prop::sample::select(NOISE).prop_map(Item::Noise),
        ]
    }

    /// Renders the items; returns the playlist and the expected URIs.
    fn render(
        bom: bool,
        crlf: bool,
        final_eol: bool,
        items: &[Item],
    ) -> (String, Vec<(String, Carrier, usize)>) {
        let eol = if crlf { "\r\n" } else { "\n" };
        let mut lines: Vec<String> = vec!["#EXTM3U".into()];
        let mut expected = Vec::new();
        for item in items {
            match item {
                Item::Segment { uri, lead, trail } => {
                    lines.push("#EXTINF:1,".into());
                    lines.push(format!("{lead}{uri}{trail}"));
                    expected.push((uri.clone(), Carrier::Segment, lines.len()));
                }
                Item::Variant {
                    image,
                    between,
                    uri,
                } => {
                    let tag = if *image {
                        "EXT-X-IMAGE-STREAM-INF"
                    } else {
                        "EXT-X-STREAM-INF"
                    };
                    lines.push(format!("#{tag}:BANDWIDTH=1,CODECS=\"a,b\""));
                    lines.extend(between.iter().map(|s| s.to_string()));
                    lines.push(uri.clone());
                    expected.push((uri.clone(), Carrier::VariantStream, lines.len()));
                }
                Item::Tag {
                    which,
                    attr,
                    at,
                    others,
                    uri,
                } => {
                    let (tag, attrs) = URI_ATTRIBUTES[*which];
                    let attribute = attrs[attr % attrs.len()];
                    let mut list: Vec<String> = others.iter().map(|s| s.to_string()).collect();
                    list.insert(at % (list.len() + 1), format!("{attribute}=\"{uri}\""));
                    lines.push(format!("#{tag}:{}", list.join(",")));
                    expected.push((
                        uri.clone(),
                        Carrier::Attribute { tag, attribute },
                        lines.len(),
                    ));
                }
                Item::OtherTag {
                    tag,
                    attribute,
                    uri,
                } => {
                    lines.push(format!("#{tag}:ID=1,{attribute}=\"{uri}\""));
                    expected.push((uri.clone(), Carrier::OtherAttribute, lines.len()));
                }
                Item::Noise(s) => lines.push(s.to_string()),
            }
        }
        let mut p = String::from(if bom { "\u{FEFF}" } else { "" });
        p.push_str(&lines.join(eol));
        if final_eol {
            p.push_str(eol);
        }
        (p, expected)
    }

    proptest! {
        #[test]
        fn never_panics_on_arbitrary_text(s in ".*") {
            let p = format!("#EXTM3U\n{s}");
            if let Ok(refs) = scan(&p) {
                check_invariants(&p, &refs);
            }
            let _ = scan(&s);
        }

        #[test]
        fn never_panics_on_playlist_like_text(
            pieces in prop::collection::vec(prop::sample::select(PIECES), 0..80),
            bom in any::<bool>(),
        ) {
            let p = format!("{}#EXTM3U\n{}", if bom { "\u{FEFF}" } else { "" }, pieces.concat());
            if let Ok(refs) = scan(&p) {
                check_invariants(&p, &refs);
            }
            let _ = scan(&pieces.concat());
        }

        #[test]
        fn finds_exactly_the_generated_uris(
            items in prop::collection::vec(item_strategy(), 0..25),
            bom in any::<bool>(),
            crlf in any::<bool>(),
            final_eol in any::<bool>(),
        ) {
            let (p, expected) = render(bom, crlf, final_eol, &items);
            let refs = scan(&p).map_err(|e| TestCaseError::fail(format!("{e}\n{p}")))?;
            check_invariants(&p, &refs);
            let got: Vec<_> = refs
                .iter()
                .map(|r| (p[r.range.clone()].to_string(), r.carrier, r.line))
                .collect();
            prop_assert_eq!(got, expected, "{}", p);
        }
    }
}
