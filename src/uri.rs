//! RFC 3986 reference resolution for the playlist rewriter.
//!
//! A playlist carries URI references (`seg1.ts`, `../audio/a.m3u8`,
//! `https://cdn.example/x.ts`, `data:…`, `skd://…`). Before a reference can be
//! signed it has to be turned into the absolute URL the player will request,
//! by resolving it against the playlist's own URL exactly as
//! [RFC 3986 §5.2](https://www.rfc-editor.org/rfc/rfc3986#section-5.2)
//! describes — including `remove_dot_segments` (§5.2.4) and the query rules of
//! §5.2.2 (an empty-path reference keeps the base query unless it has its own).
//!
//! # Bytes are kept, never decoded or re-encoded
//!
//! CloudFront verifies a signature over the *exact* bytes of the URL it is
//! asked for, so this module never percent-decodes, re-encodes or otherwise
//! "tidies" a reference: `seg%20one.ts` stays `seg%20one.ts`, `%2e%2e` is not
//! a dot segment (§5.2.4 only removes literal `.` and `..` segments), and a
//! query keeps its parameters in their original order and spelling. The only
//! changes made to the reference's text are the ones the RFC itself defines
//! as equivalence-preserving for `http(s)` and which every player applies
//! before sending the request:
//!
//! * the scheme and host are lowercased (§6.2.2.1);
//! * dot segments are removed from the path (§5.2.4) — and only from the path,
//!   never from the query or fragment;
//! * an empty path becomes `/` (§6.2.3: `http://a` and `http://a/` are the same
//!   resource, and an HTTP client always requests `/`). This is the one place
//!   the output differs from the RFC's example table: `//g` against
//!   `http://a/b/c/d;p?q` gives `http://g/` rather than `http://g`.
//!
//! Characters outside the ASCII range are passed through unchanged too; note
//! that a player will percent-encode them before sending the request, so a
//! playlist should contain them already encoded if they are to be signed.
//!
//! # What is rejected
//!
//! Only absolute `http`/`https` URLs with an authority can be signed, so
//! [`resolve`] and [`AbsoluteUrl::parse`] fail (never panic) with a precise
//! [`UriError`] for another scheme, a missing or malformed host, a bad port,
//! or a character no URL we sign may contain: control characters, whitespace
//! (including non-ASCII whitespace such as U+00A0) and the backslash.
//!
//! # Schemes and colons
//!
//! A reference has a scheme when it starts with
//! `ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )` followed by `:` before any
//! `/`, `?` or `#` (§3.1, §4.2). So `seg:1.ts` is — as RFC 3986 says — the
//! scheme `seg`, not a relative path: §4.2 requires a relative path whose first
//! segment contains a colon to be written `./seg:1.ts`. This module follows
//! the RFC; [`resolve`] reports `seg:1.ts` as
//! [`UriError::UnsupportedScheme`]. A prefix that is not a valid scheme
//! (`1seg:1.ts`, `:x`) cannot be a scheme, so such a reference is treated as a
//! relative path, as browsers do.
//!
//! The RFC's `http:g` example is resolved the *strict* way (§5.4.2): a
//! reference with a scheme is taken as absolute, so `http:g` is an `http` URL
//! without an authority and is rejected with [`UriError::MissingAuthority`].

use std::fmt;
use std::net::Ipv6Addr;
use std::str::FromStr;

/// Why a URL or reference cannot be turned into a signable absolute URL.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum UriError {
    /// [`AbsoluteUrl::parse`] was given a relative reference (no scheme).
    #[error("not an absolute URL: it has no scheme")]
    NotAbsolute,
    /// The scheme (lowercased) is not `http` or `https`.
    #[error("unsupported scheme {0:?}: only http and https URLs can be signed")]
    UnsupportedScheme(String),
    /// An `http(s)` URL without `//authority` (for example `http:g`).
    #[error("URL has no authority: expected \"//\" after the scheme")]
    MissingAuthority,
    /// The authority is present but its host is empty (`http:///x`, `http://:80/`).
    #[error("URL has an empty host")]
    MissingHost,
    /// The host is neither a valid registered name nor a valid IP literal
    /// (text as written).
    #[error("invalid host {0:?}")]
    InvalidHost(String),
    /// The port is not a decimal number of at most 65535 (text as written).
    #[error("invalid port {0:?}: expected a decimal number from 0 to 65535")]
    InvalidPort(String),
    /// A control character, whitespace or backslash; `position` is the byte
    /// offset in the text that was being parsed or resolved.
    #[error("invalid character {character:?} at byte {position}")]
    InvalidCharacter {
        /// The offending character.
        character: char,
        /// Its byte offset in the input.
        position: usize,
    },
}

/// An absolute `http` or `https` URL, split into its components.
///
/// The URL **owns** its text: it holds a single `String` (the normalised URL,
/// fragment included) plus the offsets of each component, so every accessor
/// is a cheap slice and the value has no lifetime to carry around.
///
/// Invariants, established by [`AbsoluteUrl::parse`] and [`resolve`]:
/// the scheme is `http` or `https`; the host is non-empty and lowercase; the
/// path starts with `/` and contains no `.` or `..` segments; everything else
/// is byte-for-byte as written.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct AbsoluteUrl {
    /// `scheme://authority/path[?query][#fragment]`
    serialization: String,
    /// Byte offset of the `:` after the scheme.
    scheme_end: usize,
    host_start: usize,
    host_end: usize,
    port: Option<u16>,
    /// Byte offset where the path starts (= end of the authority).
    path_start: usize,
    path_end: usize,
    /// Byte range of the query, after the `?`.
    query: Option<(usize, usize)>,
    /// Byte offset of the fragment, after the `#`.
    fragment_start: Option<usize>,
}

impl AbsoluteUrl {
    /// Parses an absolute `http(s)` URL.
    ///
    /// The scheme is matched case-insensitively and stored lowercase, the host
    /// is lowercased, an empty path becomes `/`, and dot segments are removed
    /// from the path (as §5.2.2 does for any reference with a scheme, so
    /// `parse(u) == resolve(base, u)` for every absolute `u`).
    pub fn parse(url: &str) -> Result<AbsoluteUrl, UriError> {
        let parts = Components::split(url);
        let scheme = parts.scheme.ok_or(UriError::NotAbsolute)?;
        let scheme = supported_scheme(scheme)?;
        check_characters(url)?;
        Self::from_absolute(scheme, &parts)
    }

    /// `scheme` already validated; characters already checked.
    fn from_absolute(scheme: &'static str, parts: &Components<'_>) -> Result<Self, UriError> {
        let authority = parts.authority.ok_or(UriError::MissingAuthority)?;
        let authority = Authority::parse(authority)?;
        let path = remove_dot_segments(parts.path);
        Ok(Self::build(
            scheme,
            &authority,
            &path,
            parts.query,
            parts.fragment,
        ))
    }

    fn build(
        scheme: &'static str,
        authority: &Authority,
        path: &str,
        query: Option<&str>,
        fragment: Option<&str>,
    ) -> AbsoluteUrl {
        let path = if path.is_empty() { "/" } else { path };
        let mut s = String::with_capacity(
            scheme.len()
                + 3
                + authority.text.len()
                + path.len()
                + query.map_or(0, |q| q.len() + 1)
                + fragment.map_or(0, |f| f.len() + 1),
        );
        s.push_str(scheme);
        let scheme_end = s.len();
        s.push_str("://");
        let authority_start = s.len();
        s.push_str(&authority.text);
        let path_start = s.len();
        s.push_str(path);
        let path_end = s.len();
        let query = query.map(|q| {
            s.push('?');
            let start = s.len();
            s.push_str(q);
            (start, s.len())
        });
        let fragment_start = fragment.map(|f| {
            s.push('#');
            let start = s.len();
            s.push_str(f);
            start
        });
        AbsoluteUrl {
            serialization: s,
            scheme_end,
            host_start: authority_start + authority.host_start,
            host_end: authority_start + authority.host_end,
            port: authority.port,
            path_start,
            path_end,
            query,
            fragment_start,
        }
    }

    /// `http` or `https` (always lowercase).
    pub fn scheme(&self) -> &str {
        &self.serialization[..self.scheme_end]
    }

    /// The host, lowercased, without userinfo or port. An IPv6 or IPvFuture
    /// literal keeps its brackets: `[::1]`.
    pub fn host(&self) -> &str {
        &self.serialization[self.host_start..self.host_end]
    }

    /// The explicit port, if the URL has a non-empty one.
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// The port requests go to: the explicit one, else 443 for `https` and
    /// 80 for `http`.
    pub fn effective_port(&self) -> u16 {
        self.port
            .unwrap_or(if self.scheme() == "https" { 443 } else { 80 })
    }

    /// The authority as written after `//` (userinfo and port text kept),
    /// with the host lowercased.
    pub fn authority(&self) -> &str {
        &self.serialization[self.scheme_end + 3..self.path_start]
    }

    /// The path: never empty, always starts with `/`, free of dot segments.
    pub fn path(&self) -> &str {
        &self.serialization[self.path_start..self.path_end]
    }

    /// The query without its `?`; `Some("")` for a URL ending in `?`.
    pub fn query(&self) -> Option<&str> {
        self.query
            .map(|(start, end)| &self.serialization[start..end])
    }

    /// The fragment without its `#`.
    pub fn fragment(&self) -> Option<&str> {
        self.fragment_start
            .map(|start| &self.serialization[start..])
    }

    /// The whole URL, fragment included.
    pub fn as_str(&self) -> &str {
        &self.serialization
    }

    /// The URL without its fragment: `scheme://authority/path[?query]` —
    /// what a client actually requests.
    pub fn as_str_without_fragment(&self) -> &str {
        match self.fragment_start {
            Some(start) => &self.serialization[..start - 1],
            None => &self.serialization,
        }
    }

    /// The "directory" of the path: everything up to and including the last
    /// `/` (at least `/`).
    pub fn directory(&self) -> &str {
        let path = self.path();
        &path[..path.rfind('/').map_or(0, |i| i + 1)]
    }

    /// Whether `other` has the same scheme, host and effective port
    /// (443 for `https`, 80 for `http` when no port is given). Userinfo,
    /// path, query and fragment do not matter.
    pub fn same_origin(&self, other: &AbsoluteUrl) -> bool {
        self.scheme() == other.scheme()
            && self.host() == other.host()
            && self.effective_port() == other.effective_port()
    }
}

impl fmt::Display for AbsoluteUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.serialization)
    }
}

impl fmt::Debug for AbsoluteUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("AbsoluteUrl")
            .field(&self.serialization)
            .finish()
    }
}

impl FromStr for AbsoluteUrl {
    type Err = UriError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AbsoluteUrl::parse(s)
    }
}

/// Resolves `reference` (as found in a playlist) against `base` per
/// RFC 3986 §5.2, returning the absolute target.
///
/// Follows §5.2.2 with the strict parser: a reference with a scheme is
/// absolute; `//authority…` keeps the base scheme; an empty path keeps the
/// base path and (unless the reference has one) the base query; a path is
/// merged with the base directory (§5.2.3); dot segments are then removed
/// (§5.2.4). The fragment always comes from the reference. No
/// percent-decoding or re-encoding happens (see the [module docs](self)).
pub fn resolve(base: &AbsoluteUrl, reference: &str) -> Result<AbsoluteUrl, UriError> {
    let parts = Components::split(reference);
    let scheme = parts.scheme.map(supported_scheme).transpose()?;
    check_characters(reference)?;
    if let Some(scheme) = scheme {
        return AbsoluteUrl::from_absolute(scheme, &parts);
    }
    let scheme = if base.scheme() == "https" {
        "https"
    } else {
        "http"
    };
    let (authority, path, query) = if let Some(authority) = parts.authority {
        (
            Authority::parse(authority)?,
            remove_dot_segments(parts.path),
            parts.query,
        )
    } else {
        let authority = Authority::of(base);
        if parts.path.is_empty() {
            (
                authority,
                base.path().to_owned(),
                parts.query.or(base.query()),
            )
        } else if parts.path.starts_with('/') {
            (authority, remove_dot_segments(parts.path), parts.query)
        } else {
            // §5.2.3: the base has an authority and a non-empty path, so the
            // merge is the base directory followed by the reference path.
            let mut merged = String::with_capacity(base.directory().len() + parts.path.len());
            merged.push_str(base.directory());
            merged.push_str(parts.path);
            (authority, remove_dot_segments(&merged), parts.query)
        }
    };
    Ok(AbsoluteUrl::build(
        scheme,
        &authority,
        &path,
        query,
        parts.fragment,
    ))
}

/// Whether `reference` is a plain relative path — no scheme, authority,
/// leading `/`, dot segment, query or fragment, and only characters
/// [`resolve`] accepts — so that it resolves to the base directory followed
/// by the reference itself.
///
/// Nearly every segment line is such a path; recognising them lets the
/// rewriter skip building a full URL per segment.
pub fn is_plain_relative_path(reference: &str) -> bool {
    !reference.is_empty()
        && !reference.starts_with('/')
        && !reference.contains([':', '?', '#'])
        && check_characters(reference).is_ok()
        && reference
            .split('/')
            .all(|segment| segment != "." && segment != "..")
}

/// Whether resolving `reference` against `base` takes more `..` steps than
/// there are directories above it. RFC 3986 §5.2.4 then silently stops at
/// the root (`/a/` + `../../x` is `/x`); a playlist URI that does so is
/// reaching out of its tree, and the rewriter does not sign it.
pub fn climbs_above_root(base: &AbsoluteUrl, reference: &str) -> bool {
    let parts = Components::split(reference);
    let merged;
    let path = if parts.scheme.is_some() || parts.authority.is_some() || parts.path.starts_with('/')
    {
        parts.path
    } else if parts.path.is_empty() {
        return false;
    } else {
        merged = format!("{}{}", base.directory(), parts.path);
        &merged
    };
    let mut depth = 0usize;
    let mut segments = path.split('/').skip(1).peekable();
    while let Some(segment) = segments.next() {
        match segment {
            "." => {}
            ".." => match depth.checked_sub(1) {
                Some(d) => depth = d,
                None => return true,
            },
            // The last segment names a file, not a directory.
            _ if segments.peek().is_none() => {}
            _ => depth += 1,
        }
    }
    false
}

/// The syntactic kind of a URI reference (RFC 3986 §4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReferenceKind {
    /// Has a scheme: `https://…`, `data:…`, `skd://…`, and also `seg:1.ts`.
    Absolute,
    /// Starts with `//`: inherits only the base scheme.
    NetworkPath,
    /// Starts with a single `/`: inherits the base scheme and authority.
    AbsolutePath,
    /// Anything else, including the empty reference, `?q` and `#f`.
    RelativePath,
}

/// Classifies `reference` (taken as written: no whitespace is trimmed).
pub fn reference_kind(reference: &str) -> ReferenceKind {
    if split_scheme(reference).is_some() {
        ReferenceKind::Absolute
    } else if reference.starts_with("//") {
        ReferenceKind::NetworkPath
    } else if reference.starts_with('/') {
        ReferenceKind::AbsolutePath
    } else {
        ReferenceKind::RelativePath
    }
}

/// The scheme of `reference`, lowercased, if it has one (`data`, `skd`,
/// `https`, …). See the [module docs](self) for why `seg:1.ts` has one.
pub fn scheme_of(reference: &str) -> Option<String> {
    split_scheme(reference).map(|(scheme, _)| scheme.to_ascii_lowercase())
}

/// Removes `.` and `..` segments from `path` (RFC 3986 §5.2.4), touching
/// nothing else. Runs in linear time.
pub fn remove_dot_segments(path: &str) -> String {
    let mut input = path;
    let mut output = String::with_capacity(path.len());
    while !input.is_empty() {
        if let Some(rest) = input.strip_prefix("../") {
            // A.
            input = rest;
        } else if let Some(rest) = input.strip_prefix("./") {
            // A.
            input = rest;
        } else if input.starts_with("/./") {
            // B: "/./" -> "/"
            input = &input[2..];
        } else if input == "/." {
            // B.
            input = "/";
        } else if input.starts_with("/../") {
            // C: "/../" -> "/", dropping the last output segment.
            input = &input[3..];
            pop_segment(&mut output);
        } else if input == "/.." {
            // C.
            input = "/";
            pop_segment(&mut output);
        } else if input == "." || input == ".." {
            // D.
            input = "";
        } else {
            // E: move the first segment (with its leading '/', if any).
            let skip = usize::from(input.starts_with('/'));
            let end = input[skip..].find('/').map_or(input.len(), |i| i + skip);
            output.push_str(&input[..end]);
            input = &input[end..];
        }
    }
    output
}

/// Removes the last segment of `output` and the `/` before it, if any.
fn pop_segment(output: &mut String) {
    let cut = output.rfind('/').unwrap_or(0);
    output.truncate(cut);
}

/// The five components of a reference (RFC 3986 Appendix B), as written.
#[derive(Debug)]
struct Components<'a> {
    scheme: Option<&'a str>,
    authority: Option<&'a str>,
    path: &'a str,
    query: Option<&'a str>,
    fragment: Option<&'a str>,
}

impl<'a> Components<'a> {
    fn split(reference: &'a str) -> Self {
        let (scheme, rest) = match split_scheme(reference) {
            Some((scheme, rest)) => (Some(scheme), rest),
            None => (None, reference),
        };
        let (rest, fragment) = match rest.find('#') {
            Some(i) => (&rest[..i], Some(&rest[i + 1..])),
            None => (rest, None),
        };
        let (rest, query) = match rest.find('?') {
            Some(i) => (&rest[..i], Some(&rest[i + 1..])),
            None => (rest, None),
        };
        let (authority, path) = match rest.strip_prefix("//") {
            Some(after) => {
                let end = after.find('/').unwrap_or(after.len());
                (Some(&after[..end]), &after[end..])
            }
            None => (None, rest),
        };
        Components {
            scheme,
            authority,
            path,
            query,
            fragment,
        }
    }
}

/// Splits `scheme ":" rest` off `reference` if it starts with a valid scheme
/// followed by `:` before any `/`, `?` or `#`. The scheme is returned as
/// written.
fn split_scheme(reference: &str) -> Option<(&str, &str)> {
    let end = reference.find([':', '/', '?', '#'])?;
    if reference.as_bytes()[end] != b':' {
        return None;
    }
    let scheme = &reference[..end];
    let mut bytes = scheme.bytes();
    if !bytes.next()?.is_ascii_alphabetic() {
        return None;
    }
    if !bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.')) {
        return None;
    }
    Some((scheme, &reference[end + 1..]))
}

/// `http` or `https` for a supported scheme (any case), else the error.
fn supported_scheme(scheme: &str) -> Result<&'static str, UriError> {
    if scheme.eq_ignore_ascii_case("https") {
        Ok("https")
    } else if scheme.eq_ignore_ascii_case("http") {
        Ok("http")
    } else {
        Err(UriError::UnsupportedScheme(scheme.to_ascii_lowercase()))
    }
}

/// Characters no URL we sign may contain.
fn is_forbidden(c: char) -> bool {
    c.is_control() || c.is_whitespace() || c == '\\'
}

fn check_characters(text: &str) -> Result<(), UriError> {
    match text.char_indices().find(|&(_, c)| is_forbidden(c)) {
        Some((position, character)) => Err(UriError::InvalidCharacter {
            character,
            position,
        }),
        None => Ok(()),
    }
}

/// A validated authority: its normalised text (host lowercased) and where
/// the host sits in it.
struct Authority {
    text: String,
    host_start: usize,
    host_end: usize,
    port: Option<u16>,
}

impl Authority {
    /// The authority of an already-valid URL.
    fn of(url: &AbsoluteUrl) -> Authority {
        let authority_start = url.scheme_end + 3;
        Authority {
            text: url.authority().to_owned(),
            host_start: url.host_start - authority_start,
            host_end: url.host_end - authority_start,
            port: url.port,
        }
    }

    /// Parses `[ userinfo "@" ] host [ ":" port ]`. Userinfo is kept as
    /// written and not otherwise validated.
    fn parse(raw: &str) -> Result<Authority, UriError> {
        let host_start = raw.rfind('@').map_or(0, |i| i + 1);
        let host_port = &raw[host_start..];
        let (host, port_text) = if host_port.starts_with('[') {
            let invalid = || UriError::InvalidHost(host_port.to_owned());
            let close = host_port.find(']').ok_or_else(invalid)?;
            let host = &host_port[..=close];
            let port_text = match &host_port[close + 1..] {
                "" => None,
                rest => Some(rest.strip_prefix(':').ok_or_else(invalid)?),
            };
            if !is_ip_literal(host) {
                return Err(UriError::InvalidHost(host.to_owned()));
            }
            (host, port_text)
        } else {
            let (host, port_text) = match host_port.find(':') {
                Some(i) => (&host_port[..i], Some(&host_port[i + 1..])),
                None => (host_port, None),
            };
            if host.is_empty() {
                return Err(UriError::MissingHost);
            }
            if !is_reg_name(host) {
                return Err(UriError::InvalidHost(host.to_owned()));
            }
            (host, port_text)
        };
        let port = match port_text {
            None | Some("") => None,
            Some(text) => Some(parse_port(text)?),
        };
        let host_end = host_start + host.len();
        let mut text = String::with_capacity(raw.len());
        text.push_str(&raw[..host_start]);
        text.push_str(&host.to_ascii_lowercase());
        text.push_str(&raw[host_end..]);
        Ok(Authority {
            text,
            host_start,
            host_end,
            port,
        })
    }
}

/// `port = *DIGIT`, limited to what fits in 16 bits (leading zeros allowed).
fn parse_port(text: &str) -> Result<u16, UriError> {
    let invalid = || UriError::InvalidPort(text.to_owned());
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    text.parse().map_err(|_| invalid())
}

/// `IP-literal = "[" ( IPv6address / IPvFuture ) "]"`.
fn is_ip_literal(host: &str) -> bool {
    let Some(inner) = host
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
    else {
        return false;
    };
    match inner.strip_prefix(['v', 'V']) {
        // IPvFuture = "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" )
        Some(future) => match future.split_once('.') {
            Some((version, address)) => {
                !version.is_empty()
                    && version.bytes().all(|b| b.is_ascii_hexdigit())
                    && !address.is_empty()
                    && address
                        .bytes()
                        .all(|b| is_unreserved(b) || is_sub_delim(b) || b == b':')
            }
            None => false,
        },
        None => inner.parse::<Ipv6Addr>().is_ok(),
    }
}

/// `reg-name = *( unreserved / pct-encoded / sub-delims )` (ASCII only).
fn is_reg_name(host: &str) -> bool {
    let bytes = host.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let hex = |j: usize| bytes.get(j).is_some_and(|b| b.is_ascii_hexdigit());
            if !(hex(i + 1) && hex(i + 2)) {
                return false;
            }
            i += 3;
        } else if is_unreserved(b) || is_sub_delim(b) {
            i += 1;
        } else {
            return false;
        }
    }
    true
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn is_sub_delim(b: u8) -> bool {
    matches!(
        b,
        b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'='
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const RFC_BASE: &str = "http://a/b/c/d;p?q";
    const HLS_BASE: &str = "https://d111111abcdef8.cloudfront.net/videos/hd/index.m3u8?token=1";

    fn url(text: &str) -> AbsoluteUrl {
        AbsoluteUrl::parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}"))
    }

    fn resolved(base: &str, reference: &str) -> String {
        resolve(&url(base), reference)
            .unwrap_or_else(|e| panic!("{reference:?}: {e}"))
            .to_string()
    }

    fn check_table(table: &[(&str, &str)]) {
        for &(reference, expected) in table {
            assert_eq!(
                resolved(RFC_BASE, reference),
                expected,
                "reference {reference:?}"
            );
        }
    }

    /// RFC 3986 §5.4.1, except `g:h` (not http, see below) and `//g`, which
    /// gains the `/` that §6.2.3 normalisation adds to an empty http path.
    #[test]
    fn rfc3986_normal_examples() {
        check_table(&[
            ("g", "http://a/b/c/g"),
            ("./g", "http://a/b/c/g"),
            ("g/", "http://a/b/c/g/"),
            ("/g", "http://a/g"),
            ("//g", "http://g/"),
            ("?y", "http://a/b/c/d;p?y"),
            ("g?y", "http://a/b/c/g?y"),
            ("#s", "http://a/b/c/d;p?q#s"),
            ("g#s", "http://a/b/c/g#s"),
            ("g?y#s", "http://a/b/c/g?y#s"),
            (";x", "http://a/b/c/;x"),
            ("g;x", "http://a/b/c/g;x"),
            ("g;x?y#s", "http://a/b/c/g;x?y#s"),
            ("", "http://a/b/c/d;p?q"),
            (".", "http://a/b/c/"),
            ("./", "http://a/b/c/"),
            ("..", "http://a/b/"),
            ("../", "http://a/b/"),
            ("../g", "http://a/b/g"),
            ("../..", "http://a/"),
            ("../../", "http://a/"),
            ("../../g", "http://a/g"),
        ]);
    }

    /// `g:h` resolves to `g:h` (§5.4.1): an absolute URL we cannot sign.
    #[test]
    fn rfc3986_normal_example_g_h_is_another_scheme() {
        assert_eq!(reference_kind("g:h"), ReferenceKind::Absolute);
        assert_eq!(scheme_of("g:h").as_deref(), Some("g"));
        assert_eq!(
            resolve(&url(RFC_BASE), "g:h"),
            Err(UriError::UnsupportedScheme("g".into()))
        );
    }

    /// RFC 3986 §5.4.2.
    #[test]
    fn rfc3986_abnormal_examples() {
        check_table(&[
            ("../../../g", "http://a/g"),
            ("../../../../g", "http://a/g"),
            ("/./g", "http://a/g"),
            ("/../g", "http://a/g"),
            ("g.", "http://a/b/c/g."),
            (".g", "http://a/b/c/.g"),
            ("g..", "http://a/b/c/g.."),
            ("..g", "http://a/b/c/..g"),
            ("./../g", "http://a/b/g"),
            ("./g/.", "http://a/b/c/g/"),
            ("g/./h", "http://a/b/c/g/h"),
            ("g/../h", "http://a/b/c/h"),
            ("g;x=1/./y", "http://a/b/c/g;x=1/y"),
            ("g;x=1/../y", "http://a/b/c/y"),
            ("g?y/./x", "http://a/b/c/g?y/./x"),
            ("g?y/../x", "http://a/b/c/g?y/../x"),
            ("g#s/./x", "http://a/b/c/g#s/./x"),
            ("g#s/../x", "http://a/b/c/g#s/../x"),
        ]);
    }

    /// §5.4.2: strict parsers give `http:g`, which has no authority.
    #[test]
    fn rfc3986_abnormal_http_g_is_strict() {
        assert_eq!(reference_kind("http:g"), ReferenceKind::Absolute);
        assert_eq!(
            resolve(&url(RFC_BASE), "http:g"),
            Err(UriError::MissingAuthority)
        );
    }

    /// The two worked examples of §5.2.4.
    #[test]
    fn remove_dot_segments_rfc_examples() {
        assert_eq!(remove_dot_segments("/a/b/c/./../../g"), "/a/g");
        assert_eq!(remove_dot_segments("mid/content=5/../6"), "mid/6");
        assert_eq!(remove_dot_segments(""), "");
        assert_eq!(remove_dot_segments("/"), "/");
        assert_eq!(remove_dot_segments("/.."), "/");
        assert_eq!(remove_dot_segments("/a/%2e%2e/b"), "/a/%2e%2e/b");
    }

    #[test]
    fn parse_splits_components() {
        let u = url(HLS_BASE);
        assert_eq!(u.scheme(), "https");
        assert_eq!(u.host(), "d111111abcdef8.cloudfront.net");
        assert_eq!(u.port(), None);
        assert_eq!(u.effective_port(), 443);
        assert_eq!(u.authority(), "d111111abcdef8.cloudfront.net");
        assert_eq!(u.path(), "/videos/hd/index.m3u8");
        assert_eq!(u.query(), Some("token=1"));
        assert_eq!(u.fragment(), None);
        assert_eq!(u.directory(), "/videos/hd/");
        assert_eq!(u.as_str(), HLS_BASE);
        assert_eq!(u.as_str_without_fragment(), HLS_BASE);
        assert_eq!(HLS_BASE.parse::<AbsoluteUrl>(), Ok(u));
    }

    #[test]
    fn parse_lowercases_scheme_and_host_only() {
        let u = url("HTTPS://User:PW@CDN.Example.COM:8443/Videos/A.TS?Q=B#Frag");
        assert_eq!(u.scheme(), "https");
        assert_eq!(u.host(), "cdn.example.com");
        assert_eq!(u.port(), Some(8443));
        assert_eq!(u.authority(), "User:PW@cdn.example.com:8443");
        assert_eq!(u.path(), "/Videos/A.TS");
        assert_eq!(u.query(), Some("Q=B"));
        assert_eq!(u.fragment(), Some("Frag"));
        assert_eq!(
            u.as_str_without_fragment(),
            "https://User:PW@cdn.example.com:8443/Videos/A.TS?Q=B"
        );
        assert_eq!(
            u.to_string(),
            "https://User:PW@cdn.example.com:8443/Videos/A.TS?Q=B#Frag"
        );
    }

    #[test]
    fn parse_ip_literals() {
        let u = url("http://[::1]:8080/live/x.ts");
        assert_eq!(u.host(), "[::1]");
        assert_eq!(u.port(), Some(8080));
        assert_eq!(u.authority(), "[::1]:8080");
        assert_eq!(u.path(), "/live/x.ts");

        let u = url("https://[2001:DB8::A]/x");
        assert_eq!(u.host(), "[2001:db8::a]");
        assert_eq!(u.port(), None);
        assert_eq!(
            url("http://[::ffff:192.0.2.1]/").host(),
            "[::ffff:192.0.2.1]"
        );
        assert_eq!(url("http://[v1.fe80::a+en1]/").host(), "[v1.fe80::a+en1]");
        assert_eq!(url("http://192.0.2.1:81/").host(), "192.0.2.1");

        for bad in [
            "http://[::1/x",
            "http://[::1]x/",
            "http://[]/",
            "http://[::g]/",
            "http://[1:2]/",
            "http://[v1]/",
            "http://[vx.a]/",
            "http://[fe80::1%25eth0]/",
        ] {
            assert!(
                matches!(AbsoluteUrl::parse(bad), Err(UriError::InvalidHost(_))),
                "{bad:?}: {:?}",
                AbsoluteUrl::parse(bad)
            );
        }
    }

    #[test]
    fn parse_ports() {
        assert_eq!(url("http://a:65535/").port(), Some(65535));
        assert_eq!(url("http://a:0/").port(), Some(0));
        assert_eq!(url("http://a:0080/").port(), Some(80));
        assert_eq!(url("http://a:0080/").authority(), "a:0080");
        // `port = *DIGIT`: an empty port is allowed and means the default.
        let empty = url("http://a:/");
        assert_eq!(empty.port(), None);
        assert_eq!(empty.effective_port(), 80);
        assert_eq!(empty.authority(), "a:");
        for (bad, text) in [
            ("http://a:65536/", "65536"),
            ("http://a:99999999999999999999/", "99999999999999999999"),
            ("http://a:abc/", "abc"),
            ("http://a:+80/", "+80"),
            ("http://a:-1/", "-1"),
            ("http://a:80:81/", "80:81"),
            ("http://[::1]:x/", "x"),
        ] {
            assert_eq!(
                AbsoluteUrl::parse(bad),
                Err(UriError::InvalidPort(text.into())),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn parse_errors() {
        use UriError::*;
        for (input, error) in [
            ("", NotAbsolute),
            ("videos/x.ts", NotAbsolute),
            ("//host/x.ts", NotAbsolute),
            ("/x.ts", NotAbsolute),
            ("1http://a/", NotAbsolute),
            ("ftp://a/", UnsupportedScheme("ftp".into())),
            ("DATA:text/plain,hi", UnsupportedScheme("data".into())),
            ("http:foo", MissingAuthority),
            ("https:/a/b", MissingAuthority),
            ("http:///x", MissingHost),
            ("http://", MissingHost),
            ("http://:80/", MissingHost),
            ("http://user@/", MissingHost),
            ("http://ex<ample/", InvalidHost("ex<ample".into())),
            (
                "http://caf\u{e9}.example/",
                InvalidHost("caf\u{e9}.example".into()),
            ),
            ("http://a%2/", InvalidHost("a%2".into())),
        ] {
            assert_eq!(AbsoluteUrl::parse(input), Err(error), "{input:?}");
        }
    }

    #[test]
    fn invalid_characters_are_rejected_with_position() {
        let base = url(HLS_BASE);
        for (reference, character, position) in [
            ("seg 1.ts", ' ', 3),
            ("seg1.ts\n", '\n', 7),
            ("\tseg1.ts", '\t', 0),
            ("a\\b.ts", '\\', 1),
            ("a\u{7f}.ts", '\u{7f}', 1),
            ("a\u{0}.ts", '\0', 1),
            ("\u{e9}\u{a0}.ts", '\u{a0}', 2),
            ("x.ts?q=a b", ' ', 8),
            ("x.ts#a b", ' ', 6),
            ("https://h/\u{85}", '\u{85}', 10),
        ] {
            let expected = Err(UriError::InvalidCharacter {
                character,
                position,
            });
            assert_eq!(resolve(&base, reference), expected, "{reference:?}");
        }
        assert_eq!(
            AbsoluteUrl::parse("http://a/b c"),
            Err(UriError::InvalidCharacter {
                character: ' ',
                position: 10
            })
        );
        assert_eq!(
            AbsoluteUrl::parse("http://a\\b/"),
            Err(UriError::InvalidCharacter {
                character: '\\',
                position: 8
            })
        );
    }

    #[test]
    fn parse_normalises_path() {
        assert_eq!(url("http://a").path(), "/");
        assert_eq!(url("http://a").to_string(), "http://a/");
        assert_eq!(url("http://a?q").to_string(), "http://a/?q");
        assert_eq!(url("http://a#f").to_string(), "http://a/#f");
        assert_eq!(url("http://a/b/../c/./d").path(), "/c/d");
        assert_eq!(url("http://a/b/..").path(), "/");
        assert_eq!(url("http://a/..//x").path(), "//x");
        assert_eq!(url("http://a/b?x/../y").query(), Some("x/../y"));
    }

    #[test]
    fn directory() {
        assert_eq!(url("http://a").directory(), "/");
        assert_eq!(url("http://a/x.m3u8").directory(), "/");
        assert_eq!(url("http://a/b/").directory(), "/b/");
        assert_eq!(url("http://a/b/c?d/e").directory(), "/b/");
        assert_eq!(url("http://a/b/c#d/e").directory(), "/b/");
    }

    #[test]
    fn empty_query_and_fragment_are_kept() {
        let u = url("http://a/b?#");
        assert_eq!(u.query(), Some(""));
        assert_eq!(u.fragment(), Some(""));
        assert_eq!(u.as_str_without_fragment(), "http://a/b?");
        assert_eq!(u.to_string(), "http://a/b?#");
    }

    #[test]
    fn hls_relative_segment() {
        let t = resolve(&url(HLS_BASE), "seg1.ts").unwrap();
        assert_eq!(
            t.as_str(),
            "https://d111111abcdef8.cloudfront.net/videos/hd/seg1.ts"
        );
        assert_eq!(t.query(), None, "the base query is not inherited");
        assert!(t.same_origin(&url(HLS_BASE)));
    }

    #[test]
    fn hls_parent_directory() {
        assert_eq!(
            resolved(HLS_BASE, "../audio/a.m3u8"),
            "https://d111111abcdef8.cloudfront.net/videos/audio/a.m3u8"
        );
        assert_eq!(
            resolved(HLS_BASE, "../../../../audio/a.m3u8"),
            "https://d111111abcdef8.cloudfront.net/audio/a.m3u8"
        );
    }

    #[test]
    fn hls_absolute_path() {
        assert_eq!(
            resolved(HLS_BASE, "/abs/x.ts"),
            "https://d111111abcdef8.cloudfront.net/abs/x.ts"
        );
        assert_eq!(reference_kind("/abs/x.ts"), ReferenceKind::AbsolutePath);
    }

    #[test]
    fn hls_network_path() {
        let t = resolve(&url(HLS_BASE), "//d111111abcdef8.cloudfront.net/p.ts").unwrap();
        assert_eq!(t.as_str(), "https://d111111abcdef8.cloudfront.net/p.ts");
        assert!(t.same_origin(&url(HLS_BASE)));
        assert_eq!(
            reference_kind("//d111111abcdef8.cloudfront.net/p.ts"),
            ReferenceKind::NetworkPath
        );
        // The network path takes the base scheme, not https by default.
        assert_eq!(resolved("http://a/b", "//c/d"), "http://c/d");
        assert_eq!(
            resolved(HLS_BASE, "//C.Example:8443"),
            "https://c.example:8443/"
        );
        assert_eq!(
            resolve(&url(HLS_BASE), "//c:x/d"),
            Err(UriError::InvalidPort("x".into()))
        );
        assert_eq!(resolve(&url(HLS_BASE), "///d"), Err(UriError::MissingHost));
    }

    #[test]
    fn hls_other_host() {
        let t = resolve(&url(HLS_BASE), "https://other.example/x.ts").unwrap();
        assert_eq!(t.as_str(), "https://other.example/x.ts");
        assert_eq!(t.host(), "other.example");
        assert!(!t.same_origin(&url(HLS_BASE)));
    }

    #[test]
    fn hls_query_and_fragment() {
        let t = resolve(&url(HLS_BASE), "seg.ts?x=1#t=5").unwrap();
        assert_eq!(t.path(), "/videos/hd/seg.ts");
        assert_eq!(t.query(), Some("x=1"));
        assert_eq!(t.fragment(), Some("t=5"));
        assert_eq!(
            t.as_str_without_fragment(),
            "https://d111111abcdef8.cloudfront.net/videos/hd/seg.ts?x=1"
        );
        assert_eq!(
            t.as_str(),
            "https://d111111abcdef8.cloudfront.net/videos/hd/seg.ts?x=1#t=5"
        );
    }

    #[test]
    fn hls_empty_path_references_keep_base_query_rules() {
        let base = url(HLS_BASE);
        let same = resolve(&base, "").unwrap();
        assert_eq!(same.as_str(), HLS_BASE);
        let frag = resolve(&base, "#t=5").unwrap();
        assert_eq!(frag.query(), Some("token=1"));
        assert_eq!(frag.fragment(), Some("t=5"));
        let own = resolve(&base, "?token=2").unwrap();
        assert_eq!(own.path(), "/videos/hd/index.m3u8");
        assert_eq!(own.query(), Some("token=2"));
        let empty = resolve(&base, "?").unwrap();
        assert_eq!(empty.query(), Some(""));
        assert_eq!(empty.fragment(), None);
    }

    #[test]
    fn hls_data_uri() {
        let reference = "data:text/plain;base64,SGVsbG8=";
        assert_eq!(reference_kind(reference), ReferenceKind::Absolute);
        assert_eq!(scheme_of(reference).as_deref(), Some("data"));
        assert_eq!(
            resolve(&url(HLS_BASE), reference),
            Err(UriError::UnsupportedScheme("data".into()))
        );
        // The scheme is reported even when the data contains spaces.
        assert_eq!(
            resolve(&url(HLS_BASE), "data:text/plain,a b"),
            Err(UriError::UnsupportedScheme("data".into()))
        );
    }

    #[test]
    fn hls_skd_key_uri() {
        assert_eq!(reference_kind("skd://key"), ReferenceKind::Absolute);
        assert_eq!(scheme_of("SKD://key").as_deref(), Some("skd"));
        assert_eq!(
            resolve(&url(HLS_BASE), "skd://key"),
            Err(UriError::UnsupportedScheme("skd".into()))
        );
    }

    #[test]
    fn hls_uppercase_scheme_and_host() {
        let t = resolve(
            &url(HLS_BASE),
            "HTTPS://D111111ABCDEF8.CloudFront.NET/Videos/SEG.ts",
        )
        .unwrap();
        assert_eq!(
            t.as_str(),
            "https://d111111abcdef8.cloudfront.net/Videos/SEG.ts"
        );
        assert!(t.same_origin(&url(HLS_BASE)));
        assert_eq!(scheme_of("HtTpS://x").as_deref(), Some("https"));
    }

    #[test]
    fn colon_in_first_segment_is_a_scheme() {
        // RFC 3986 §4.2: "seg:1.ts" is scheme "seg"; write "./seg:1.ts".
        assert_eq!(reference_kind("seg:1.ts"), ReferenceKind::Absolute);
        assert_eq!(
            resolve(&url(HLS_BASE), "seg:1.ts"),
            Err(UriError::UnsupportedScheme("seg".into()))
        );
        assert_eq!(
            resolved(HLS_BASE, "./seg:1.ts"),
            "https://d111111abcdef8.cloudfront.net/videos/hd/seg:1.ts"
        );
        // A colon after the first '/', '?' or '#' does not make a scheme.
        assert_eq!(scheme_of("a/b:c"), None);
        assert_eq!(scheme_of("a?b:c"), None);
        assert_eq!(scheme_of("a#b:c"), None);
        assert_eq!(
            resolved(HLS_BASE, "hd/seg:1.ts"),
            "https://d111111abcdef8.cloudfront.net/videos/hd/hd/seg:1.ts"
        );
        // Not a valid scheme, so a relative path (as browsers treat it).
        assert_eq!(scheme_of("1seg:1.ts"), None);
        assert_eq!(reference_kind(":x"), ReferenceKind::RelativePath);
        assert_eq!(
            resolved(HLS_BASE, "1seg:1.ts"),
            "https://d111111abcdef8.cloudfront.net/videos/hd/1seg:1.ts"
        );
    }

    #[test]
    fn bytes_are_not_decoded_or_reencoded() {
        for (reference, path) in [
            ("seg%20one.ts", "/videos/hd/seg%20one.ts"),
            ("%2e%2e/x.ts", "/videos/hd/%2e%2e/x.ts"),
            ("a%2Fb.ts", "/videos/hd/a%2Fb.ts"),
            ("%zz.ts", "/videos/hd/%zz.ts"),
            ("caf\u{e9}.ts", "/videos/hd/caf\u{e9}.ts"),
            ("SEG.TS", "/videos/hd/SEG.TS"),
        ] {
            assert_eq!(resolve(&url(HLS_BASE), reference).unwrap().path(), path);
        }
        let t = resolve(&url(HLS_BASE), "x.ts?b=%41&a=1&b=2#%7e").unwrap();
        assert_eq!(t.query(), Some("b=%41&a=1&b=2"));
        assert_eq!(t.fragment(), Some("%7e"));
    }

    #[test]
    fn base_fragment_is_never_inherited() {
        let base = url("http://a/b/c?q#frag");
        assert_eq!(resolved(base.as_str(), ""), "http://a/b/c?q");
        assert_eq!(resolved(base.as_str(), "d"), "http://a/b/d");
    }

    #[test]
    fn same_origin_rules() {
        let https = url("https://Example.com/a");
        assert!(https.same_origin(&url("https://example.com/b?x")));
        assert!(https.same_origin(&url("https://EXAMPLE.COM:443/")));
        assert!(https.same_origin(&url("https://example.com:/")));
        assert!(https.same_origin(&url("https://user@example.com/")));
        assert!(!https.same_origin(&url("http://example.com/a")));
        assert!(!https.same_origin(&url("https://example.com:8443/a")));
        assert!(!https.same_origin(&url("https://example.com:80/a")));
        assert!(!https.same_origin(&url("https://www.example.com/a")));
        assert!(!https.same_origin(&url("https://example.com./a")));

        let http = url("http://example.com/");
        assert!(http.same_origin(&url("http://example.com:80/x")));
        assert!(http.same_origin(&url("HTTP://example.com:0080/x")));
        assert!(!http.same_origin(&url("http://example.com:443/x")));

        let v6 = url("http://[::1]:8080/");
        assert!(v6.same_origin(&url("http://[::1]:8080/x")));
        assert!(!v6.same_origin(&url("http://[::1]/x")));
    }

    #[test]
    fn reference_kinds() {
        use ReferenceKind::*;
        for (reference, kind) in [
            ("https://a/b", Absolute),
            ("data:,x", Absolute),
            ("a+b-c.d:x", Absolute),
            ("//a/b", NetworkPath),
            ("//", NetworkPath),
            ("/a", AbsolutePath),
            ("/", AbsolutePath),
            ("a", RelativePath),
            ("", RelativePath),
            ("?q", RelativePath),
            ("#f", RelativePath),
            ("./a:b", RelativePath),
            ("+a:b", RelativePath),
            (" https://a/", RelativePath),
        ] {
            assert_eq!(reference_kind(reference), kind, "{reference:?}");
        }
    }

    #[test]
    fn schemes() {
        assert_eq!(scheme_of("https://a").as_deref(), Some("https"));
        assert_eq!(scheme_of("Data:x").as_deref(), Some("data"));
        assert_eq!(scheme_of("a1+-.:x").as_deref(), Some("a1+-."));
        assert_eq!(scheme_of("x:").as_deref(), Some("x"));
        assert_eq!(scheme_of(""), None);
        assert_eq!(scheme_of(":x"), None);
        assert_eq!(scheme_of("seg.ts"), None);
        assert_eq!(scheme_of("a_b:c"), None);
        assert_eq!(scheme_of("\u{e9}:c"), None);
    }

    #[test]
    fn plain_relative_paths_resolve_by_concatenation() {
        let base = AbsoluteUrl::parse("https://h.example/a/b/index.m3u8?x=1").unwrap();
        for plain in [
            "seg1.ts",
            "hd/seg1.ts",
            "a..b/.c.ts",
            "x/y/",
            "v%20w.ts",
            "q;p=1.ts",
        ] {
            assert!(is_plain_relative_path(plain), "{plain}");
            let resolved = resolve(&base, plain).unwrap();
            assert_eq!(resolved.as_str(), format!("https://h.example/a/b/{plain}"));
        }
        for not_plain in [
            "",
            "/abs.ts",
            "//h/x.ts",
            "../up.ts",
            "./here.ts",
            "a/../b.ts",
            "a/.",
            "x.ts?q",
            "x.ts#f",
            "https://h/x.ts",
            "c:x.ts",
            "sp ace.ts",
            "tab\t.ts",
        ] {
            assert!(!is_plain_relative_path(not_plain), "{not_plain}");
        }
    }

    #[test]
    fn error_messages() {
        assert_eq!(
            UriError::UnsupportedScheme("skd".into()).to_string(),
            "unsupported scheme \"skd\": only http and https URLs can be signed"
        );
        assert_eq!(
            UriError::InvalidCharacter {
                character: ' ',
                position: 3
            }
            .to_string(),
            "invalid character ' ' at byte 3"
        );
        assert_eq!(
            UriError::InvalidPort("x".into()).to_string(),
            "invalid port \"x\": expected a decimal number from 0 to 65535"
        );
    }

    /// A reference made of `a-z`, `.` and `..` segments.
    fn segment_reference() -> impl Strategy<Value = (bool, Vec<String>, bool)> {
        let segment = prop_oneof!["[a-z]{1,3}", Just(".".to_owned()), Just("..".to_owned())];
        (
            any::<bool>(),
            prop::collection::vec(segment, 1..10),
            any::<bool>(),
        )
    }

    proptest! {
        #[test]
        fn resolve_never_panics_on_printable(reference in "[ -~]{0,40}") {
            let base = url(HLS_BASE);
            if let Ok(target) = resolve(&base, &reference) {
                prop_assert!(target.path().starts_with('/'));
                // A resolved URL reparses to itself.
                prop_assert_eq!(AbsoluteUrl::parse(target.as_str()), Ok(target.clone()));
            }
            let _ = AbsoluteUrl::parse(&reference);
            let _ = reference_kind(&reference);
            let _ = scheme_of(&reference);
        }

        #[test]
        fn resolve_never_panics_on_url_shaped_input(
            reference in "(https?:|[a-zA-Z]{1,3}:)?(//)?[a-zA-Z0-9.:@\\[\\]%/?#;=-]{0,30}"
        ) {
            let base = url(RFC_BASE);
            if let Ok(target) = resolve(&base, &reference) {
                prop_assert!(target.path().starts_with('/'));
                prop_assert_eq!(AbsoluteUrl::parse(target.as_str()), Ok(target.clone()));
            }
            if let Ok(parsed) = AbsoluteUrl::parse(&reference) {
                // Absolute URLs resolve to themselves against any base.
                prop_assert_eq!(resolve(&base, &reference), Ok(parsed));
            }
        }

        #[test]
        fn resolve_never_panics_on_any_string(reference in any::<String>()) {
            let _ = resolve(&url(HLS_BASE), &reference);
            let _ = AbsoluteUrl::parse(&reference);
        }

        #[test]
        fn resolved_segment_paths_have_no_dot_segments(
            (leading, segments, trailing) in segment_reference()
        ) {
            let mut reference = String::new();
            if leading {
                reference.push('/');
            }
            reference.push_str(&segments.join("/"));
            if trailing {
                reference.push('/');
            }
            let target = resolve(&url(HLS_BASE), &reference).unwrap();
            let path = target.path();
            prop_assert!(path.starts_with('/'), "{}", path);
            prop_assert!(!path.contains("/./") && !path.contains("/../"), "{}", path);
            prop_assert!(
                path.split('/').all(|s| s != "." && s != ".."),
                "{}",
                path
            );
            prop_assert_eq!(target.query(), None);

            // Oracle: a stack of segments starting from the base directory.
            let mut stack: Vec<&str> = if leading { vec![] } else { vec!["videos", "hd"] };
            for segment in &segments {
                match segment.as_str() {
                    "." => {}
                    ".." => { stack.pop(); }
                    name => stack.push(name),
                }
            }
            let ends_in_dir = trailing
                || matches!(segments.last().map(String::as_str), Some("." | ".."));
            let mut expected = format!("/{}", stack.join("/"));
            if ends_in_dir && !stack.is_empty() {
                expected.push('/');
            }
            prop_assert_eq!(path, expected.as_str());
        }
    }
}
