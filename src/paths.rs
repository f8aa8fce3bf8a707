//! Path safety: which request paths the function may turn into an origin
//! fetch, and which playlist paths it may sign (DESIGN §5.7).
//!
//! CloudFront matches a signature against the URL text, but the origin
//! behind it (S3, Tomcat, IIS, nginx, a MediaPackage endpoint) may normalise
//! that text before it serves a file: `..` and `.` segments, percent-encoded
//! dots and slashes, IIS's `%u002e`, Tomcat's path parameters (`..;x`),
//! overlong UTF-8 (`%c0%ae`), Windows' backslashes and trailing dots, doubled
//! slashes, full-width dots. A path that any of them would read as leaving
//! its directory is refused here, before any fetch and before any signature,
//! instead of being interpreted one way by the function and another by the
//! origin. The rules are deliberately wider than any one origin needs.
//!
//! ```
//! use hls_edge_signer::paths::{check_path, PathError};
//! assert_eq!(check_path("/videos/index._m3u8"), Ok(()));
//! assert_eq!(check_path("/videos/..;/admin/index._m3u8"), Err(PathError::DotSegment));
//! assert_eq!(check_path("/videos/%u002e%u002e/x._m3u8"), Err(PathError::EncodedDelimiter));
//! ```

/// Longest request path accepted (CloudFront allows 8 KB of URL; playlists
/// live at short paths).
pub const MAX_PATH: usize = 1024;

/// Why a path was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("path too long")]
    TooLong,
    #[error("path must be origin-relative (start with a single /)")]
    NotOriginRelative,
    #[error("path holds a forbidden character (control, space, backslash, `*` or raw non-ASCII)")]
    ForbiddenCharacter,
    #[error("path holds an encoded dot, slash, backslash, NUL, percent or %u escape")]
    EncodedDelimiter,
    #[error("path holds a malformed percent escape or invalid UTF-8")]
    BadEscape,
    #[error("path holds a dot segment (., .., ..;, trailing dots, dot look-alikes)")]
    DotSegment,
    #[error("path holds an empty segment (//)")]
    EmptySegment,
}

/// Escapes refused outright (lowercase): dot, slash, backslash, NUL, the
/// percent sign itself (double encoding), and IIS's `%u` form.
const REFUSED_ESCAPES: [&str; 6] = ["%2e", "%2f", "%5c", "%00", "%25", "%u"];

/// Characters that some normaliser (NFKC, a Windows API, a lenient origin)
/// turns into `.`, `/` or `\`.
const LOOK_ALIKES: [char; 8] = [
    '\u{FF0E}', // FULLWIDTH FULL STOP
    '\u{2024}', // ONE DOT LEADER
    '\u{FE52}', // SMALL FULL STOP
    '\u{3002}', // IDEOGRAPHIC FULL STOP
    '\u{FF0F}', // FULLWIDTH SOLIDUS
    '\u{2215}', // DIVISION SLASH
    '\u{2044}', // FRACTION SLASH
    '\u{FF3C}', // FULLWIDTH REVERSE SOLIDUS
];

/// Checks a request path (percent-encoded, as received) or a resolved
/// playlist path before it is fetched or signed.
pub fn check_path(path: &str) -> Result<(), PathError> {
    if path.len() > MAX_PATH {
        return Err(PathError::TooLong);
    }
    if !path.starts_with('/') || path.starts_with("//") {
        return Err(PathError::NotOriginRelative);
    }
    if path
        .bytes()
        .any(|b| b.is_ascii_control() || matches!(b, b' ' | b'\\' | b'*') || b >= 0x80)
    {
        // `*` is legal in a URL path but a wildcard in every CloudFront
        // Resource built from one.
        return Err(PathError::ForbiddenCharacter);
    }
    let lower = path.to_ascii_lowercase();
    if REFUSED_ESCAPES.iter().any(|escape| lower.contains(escape)) {
        return Err(PathError::EncodedDelimiter);
    }
    let decoded = decode_strict(path)?;
    if decoded
        .chars()
        .any(|c| c.is_control() || LOOK_ALIKES.contains(&c))
    {
        return Err(PathError::DotSegment);
    }
    let segments: Vec<&str> = decoded.split('/').skip(1).collect();
    let last = segments.len().saturating_sub(1);
    for (i, segment) in segments.iter().enumerate() {
        if segment.is_empty() && i != last {
            return Err(PathError::EmptySegment);
        }
        if is_dot_segment(segment) {
            return Err(PathError::DotSegment);
        }
    }
    Ok(())
}

/// Whether some origin reads `segment` as `.` or `..`: after dropping a
/// path parameter (`;…`, Tomcat) and trailing spaces (Windows), nothing but
/// dots is left.
fn is_dot_segment(segment: &str) -> bool {
    let name = segment.split(';').next().unwrap_or("");
    let name = name.trim_end_matches(' ');
    !name.is_empty() && name.bytes().all(|b| b == b'.')
}

/// Decodes `%XX` escapes; a malformed escape or a result that is not UTF-8
/// (overlong forms such as `%c0%ae` are not) is an error.
fn decode_strict(path: &str) -> Result<String, PathError> {
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = |at: usize| {
                bytes
                    .get(at)
                    .and_then(|&b| (b as char).to_digit(16))
                    .ok_or(PathError::BadEscape)
            };
            out.push((hex(i + 1)? * 16 + hex(i + 2)?) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| PathError::BadEscape)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_dot_segment_spelling_is_refused() {
        for bad in [
            "/../etc/passwd._m3u8",
            "/a/./b._m3u8",
            "/a/%2e%2e/b._m3u8",
            "/a/%2E%2e/b._m3u8",
            "/a/.%2e/b._m3u8",
            "/a/..;/b._m3u8",
            "/a/..;jsessionid=x/b._m3u8",
            "/a/.;/b._m3u8",
            "/a/%u002e%u002e/b._m3u8",
            "/a/%U002E%U002E/b._m3u8",
            "/a/%c0%ae%c0%ae/b._m3u8",
            "/a/%e0%80%ae%e0%80%ae/b._m3u8",
            "/a/%ef%bc%8e%ef%bc%8e/b._m3u8",
            "/a/%e2%80%a4%e2%80%a4/b._m3u8",
            "/a/.../b._m3u8",
            "/a/..%20/b._m3u8",
            "/a/%252e%252e/b._m3u8",
            "/a%2fb._m3u8",
            "/a%5c..%5cb._m3u8",
            "/a\\b._m3u8",
            "/a\\..\\b._m3u8",
            "//evil.example/x._m3u8",
            "https://evil.example/x._m3u8",
            "/a//b._m3u8",
            "/a%00._m3u8",
            "/a b._m3u8",
            "/a/%zz._m3u8",
            "/a/%e2%88%95etc._m3u8",
            "/caf\u{e9}/x._m3u8",
            "/v/x*/index._m3u8",
            "/..",
            "/.",
        ] {
            assert!(check_path(bad).is_err(), "{bad}");
        }
        assert_eq!(
            check_path(&format!("/{}._m3u8", "a".repeat(MAX_PATH))),
            Err(PathError::TooLong)
        );
    }

    #[test]
    fn ordinary_paths_pass() {
        for good in [
            "/videos/index._m3u8",
            "/v/a..b/x-1_2._m3u8",
            "/v/%41._m3u8",
            "/v/caf%C3%A9/x._m3u8",
            "/v/.hidden/x._m3u8",
            "/v/a;b/x._m3u8",
            "/v/dir/",
            "/",
        ] {
            assert_eq!(check_path(good), Ok(()), "{good}");
        }
    }
}
