//! What an issued grant may cover: the Resource the rewriter writes for a
//! URI a playlist lists, and the URIs it refuses to sign (DESIGN §5.4).
//!
//! The function holds a key the whole distribution trusts, so a Resource is
//! a grant over everything it matches. The rules:
//!
//! * **Exact by default.** A key, an init map, a child playlist, session
//!   data, an interstitial: each gets a grant for exactly its own URL (a
//!   child playlist's ends in `*` so LL-HLS players may add `_HLS_msn` and
//!   friends to its query).
//! * **Runs of segments share a pattern.** A media segment or part
//!   (`seg-00042.ts`) is granted as its name with its sequence number (the
//!   last run of digits before the extension) replaced by as many `?`
//!   (`seg-?????.ts`): one signature covers the whole run, and — because the
//!   pattern is a function of the URI alone — a live segment's URI stays
//!   identical across reloads. Only names with a literal prefix and an
//!   extension get a pattern; see [`digit_pattern`] for exactly what one
//!   covers.
//! * **`directory` is opt-in.** `https://host/dir/*` (every file under the
//!   directory, and deeper) only when configured.
//! * **Characters from a URI are never wildcards.** CloudFront reads `*` and
//!   `?` in a Resource as wildcards and offers no escape, so a URI holding
//!   `*`, or a `?` inside its query, is left unsigned. The `?` that starts a
//!   query cannot be avoided: a grant for `a.ts?x=1` also matches `a.ts` +
//!   any one character + `x=1` (CloudFront's syntax; canned grants included,
//!   since a canned statement can be replayed as a custom policy).
//! * **Paths stay in their tree.** A URI whose path an origin could read as
//!   leaving its directory ([`crate::paths`]), or that climbs above the root
//!   with more `..` than it has directories, is left unsigned.
//! * **Optional confinement.** For platforms whose playlists come from users,
//!   [`Confinement`] keeps every issued Resource under a prefix of the
//!   requested path (its first N segments); outside it, nothing is signed.
//!
//! A URI left unsigned is written back unchanged (the player gets
//! CloudFront's 403 for it) and counted with its reason in the log.

use std::fmt;
use std::str::FromStr;

use crate::paths::{check_path, PathError};

/// How URIs are signed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Mode {
    /// One canned signature per URI (a custom one where the limits need
    /// conditions, or for a child playlist).
    Canned,
    /// Exact grants, except runs of segments, which share one pattern per
    /// name shape (`seg-?????.ts`).
    #[default]
    Wildcard,
    /// One grant per directory (`https://host/dir/*`): opt-in, it also covers
    /// every other file under the directory.
    Directory,
    /// Re-use the viewer's own custom policy when it covers a URI (no new
    /// signature); otherwise as `wildcard`.
    Propagate,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Canned => "canned",
            Self::Wildcard => "wildcard",
            Self::Directory => "directory",
            Self::Propagate => "propagate",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Mode {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "canned" => Ok(Self::Canned),
            "wildcard" => Ok(Self::Wildcard),
            "directory" => Ok(Self::Directory),
            "propagate" => Ok(Self::Propagate),
            _ => Err(format!(
                "unknown mode `{text}` (canned, wildcard, directory or propagate)"
            )),
        }
    }
}

/// Why a URI the playlist lists was left unsigned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unsigned {
    /// `*` anywhere, or `?` inside the query: it would act as a wildcard.
    WildcardCharacter,
    /// More `..` than directories above the playlist.
    ClimbsAboveRoot,
    /// A path an origin could read as leaving its directory.
    UnsafePath(PathError),
    /// Outside the configured confinement prefix.
    OutsideConfinement,
    /// A DASH value that cannot be spliced safely (CDATA, a comment or an
    /// element inside it), or a template that does not parse.
    Unreadable,
    /// A DASH template whose pattern ends in a wildcard instead of a
    /// literal extension (it would cover every file under its directory).
    TemplateWithoutExtension,
    /// A DASH template whose pattern would need a `*` in a directory name
    /// or at the start of a file name: it would grant a whole directory.
    TemplateReachesDirectory,
}

impl Unsigned {
    /// A short reason for the log record.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::WildcardCharacter => "URI holds * or a ? inside its query",
            Self::ClimbsAboveRoot => "URI climbs above the root with ..",
            Self::UnsafePath(_) => "URI path holds a dot segment or encoded delimiter",
            Self::OutsideConfinement => "URI is outside the confinement prefix",
            Self::Unreadable => "URL value holds markup or is not a valid template",
            Self::TemplateWithoutExtension => {
                "template has no literal extension after its variables"
            }
            Self::TemplateReachesDirectory => {
                "template pattern would cover a whole directory (directory mode grants it)"
            }
        }
    }
}

/// Checks a resolved target (`scheme://authority`, path, optional query)
/// before anything is signed for it.
pub fn check_target(origin: &str, path: &str, query: Option<&str>) -> Result<(), Unsigned> {
    if origin.contains(['*', '?']) || path.contains(['*', '?']) {
        return Err(Unsigned::WildcardCharacter);
    }
    if query.is_some_and(|q| q.contains(['*', '?'])) {
        return Err(Unsigned::WildcardCharacter);
    }
    check_path(path).map_err(Unsigned::UnsafePath)
}

/// Keeps issued Resources under a prefix of the requested path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Confinement {
    /// How many leading path segments of the request form the prefix
    /// (`2`: a request for `/u/alice/v1/index._m3u8` confines to `/u/alice/`).
    pub segments: usize,
}

impl Confinement {
    /// The prefix for a request path: its first `segments` directories, or
    /// its own directory when it has fewer.
    pub fn prefix(&self, request_path: &str) -> String {
        let directory = &request_path[..request_path.rfind('/').map_or(0, |i| i + 1)];
        let mut end = 0;
        for _ in 0..self.segments {
            match directory[end + 1..].find('/') {
                Some(i) => end += i + 1,
                None => break,
            }
        }
        directory[..end + 1].to_owned()
    }
}

/// Whether `path` lies under `prefix` (a directory ending in `/`).
pub fn within(prefix: &str, path: &str) -> bool {
    path.starts_with(prefix)
}

/// The pattern a segment's file name is granted as: the last run of ASCII
/// digits before the extension — the sequence number — becomes as many `?`.
/// `None` (an exact grant) unless the name has a literal prefix before that
/// run and an extension after it.
///
/// CloudFront's `?` stands for *any* one character, `/` and the query's `?`
/// included, and S3 ignores a query it does not expect. So the pattern for
/// `seg-00042.ts` covers, besides the run `seg-00000.ts` … `seg-99999.ts`,
/// the directory's names that start with `seg-` and are shorter than the
/// segment's own (`seg-ab?x.ts` is `seg-ab` with a query), and short
/// subpaths of `seg-…`. The literal prefix is what keeps that within the
/// run's own names; a name that starts with its digits (`1732400000.ts`)
/// would reach every short name in the directory, so it gets an exact grant,
/// as does a name without an extension.
///
/// ```
/// use hls_edge_signer::scope::digit_pattern;
/// assert_eq!(digit_pattern("seg-00042.ts").as_deref(), Some("seg-?????.ts"));
/// assert_eq!(digit_pattern("v1080p_007.m4s").as_deref(), Some("v1080p_???.m4s"));
/// assert_eq!(digit_pattern("1732400000.ts"), None);
/// assert_eq!(digit_pattern("main.mp4"), None);
/// ```
pub fn digit_pattern(name: &str) -> Option<String> {
    let stem_end = name.rfind('.')?;
    if stem_end + 1 == name.len() {
        return None;
    }
    let stem = &name.as_bytes()[..stem_end];
    let run_end = stem.iter().rposition(u8::is_ascii_digit)? + 1;
    let run_start = stem[..run_end]
        .iter()
        .rposition(|b| !b.is_ascii_digit())
        .map_or(0, |i| i + 1);
    if run_start == 0 {
        return None;
    }
    let mut pattern = String::with_capacity(name.len());
    pattern.push_str(&name[..run_start]);
    pattern.push_str(&"?".repeat(run_end - run_start));
    pattern.push_str(&name[run_end..]);
    Some(pattern)
}

/// Whether two references get the same [`digit_pattern`] (which both must
/// have): the same text but for the sequence-number run, of the same length.
/// Compares in place, without building either pattern.
pub fn same_pattern(a: &str, b: &str) -> bool {
    fn run(name: &str) -> Option<(usize, usize)> {
        let file_start = name.rfind('/').map_or(0, |i| i + 1);
        let stem_end = name
            .rfind('.')
            .filter(|&i| i >= file_start && i + 1 < name.len())?;
        let bytes = name.as_bytes();
        let end = bytes[file_start..stem_end]
            .iter()
            .rposition(u8::is_ascii_digit)?
            + file_start
            + 1;
        let start = bytes[file_start..end]
            .iter()
            .rposition(|b| !b.is_ascii_digit())
            .map(|i| i + file_start + 1)?;
        Some((start, end))
    }
    if a.len() != b.len() {
        return false;
    }
    match (run(a), run(b)) {
        (Some(ra), Some(rb)) => ra == rb && a[..ra.0] == b[..rb.0] && a[ra.1..] == b[rb.1..],
        _ => false,
    }
}

/// One pattern that covers every one of `patterns` (CloudFront syntax), as
/// tightly as the syntax allows. Patterns with the same number of `*` are
/// merged between their `*`s, part by part; within a part (or the whole,
/// otherwise) characters where all agree stay literal, parts of one length
/// differ only in `?` positions, and other parts keep their common prefix
/// and suffix literal around one `*`.
///
/// ```
/// use hls_edge_signer::scope::merge_patterns;
/// let merged = |v: &[&str]| merge_patterns(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
/// assert_eq!(merged(&["v360/s-*.m4s", "v720/s-*.m4s"]).as_deref(), Some("v??0/s-*.m4s"));
/// assert_eq!(merged(&["540p/*.m4s", "1080p/*.m4s"]).as_deref(), Some("*0p/*.m4s"));
/// ```
pub fn merge_patterns(patterns: &[String]) -> Option<String> {
    let first = patterns.first()?;
    if patterns.iter().all(|p| p == first) {
        return Some(first.clone());
    }
    let stars = first.matches('*').count();
    if stars > 0 && patterns.iter().all(|p| p.matches('*').count() == stars) {
        let split: Vec<Vec<&str>> = patterns.iter().map(|p| p.split('*').collect()).collect();
        let parts: Vec<String> = (0..=stars)
            .map(|i| merge_literal_parts(&split.iter().map(|s| s[i]).collect::<Vec<_>>()))
            .collect();
        let mut merged = parts.join("*");
        while merged.contains("**") {
            merged = merged.replace("**", "*");
        }
        return Some(merged);
    }
    Some(merge_literal_parts(
        &patterns.iter().map(String::as_str).collect::<Vec<_>>(),
    ))
}

/// The tightest single pattern over `parts` (CloudFront syntax, `*` in a
/// part read as any run).
fn merge_literal_parts(parts: &[&str]) -> String {
    if parts.iter().all(|p| *p == parts[0]) {
        return parts[0].to_owned();
    }
    let chars: Vec<Vec<char>> = parts.iter().map(|p| p.chars().collect()).collect();
    let len = chars[0].len();
    if chars.iter().all(|c| c.len() == len && !c.contains(&'*')) {
        return (0..len)
            .map(|i| {
                if chars.iter().all(|c| c[i] == chars[0][i]) {
                    chars[0][i]
                } else {
                    '?'
                }
            })
            .collect();
    }
    let shortest = chars.iter().map(Vec::len).min().unwrap_or(0);
    let prefix = (0..shortest)
        .take_while(|&i| chars.iter().all(|c| c[i] == chars[0][i] && c[i] != '*'))
        .count();
    let suffix = (0..shortest - prefix)
        .take_while(|&i| {
            chars.iter().all(|c| {
                let ch = c[c.len() - 1 - i];
                ch == chars[0][chars[0].len() - 1 - i] && ch != '*'
            })
        })
        .count();
    let mut merged: String = chars[0][..prefix].iter().collect();
    merged.push('*');
    merged.extend(&chars[0][chars[0].len() - suffix..]);
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confinement_prefixes() {
        let two = Confinement { segments: 2 };
        assert_eq!(two.prefix("/u/alice/v1/index._m3u8"), "/u/alice/");
        assert_eq!(two.prefix("/u/index._m3u8"), "/u/");
        assert_eq!(two.prefix("/index._m3u8"), "/");
        assert_eq!(Confinement { segments: 0 }.prefix("/u/a/i._m3u8"), "/");
        assert!(within("/u/alice/", "/u/alice/v2/seg.ts"));
        assert!(!within("/u/alice/", "/u/alice2/seg.ts"));
        assert!(!within("/u/alice/", "/u/bob/seg.ts"));
    }

    #[test]
    fn wildcard_characters_are_refused() {
        assert_eq!(
            check_target("https://h", "/u/*/seg.ts", None),
            Err(Unsigned::WildcardCharacter)
        );
        assert_eq!(
            check_target("https://h", "/u/seg.ts", Some("a=?")),
            Err(Unsigned::WildcardCharacter)
        );
        assert_eq!(
            check_target("https://h", "/u/seg.ts", Some("a=*")),
            Err(Unsigned::WildcardCharacter)
        );
        assert_eq!(check_target("https://h", "/u/seg.ts", Some("a=1")), Ok(()));
        assert!(matches!(
            check_target("https://h", "/u/..;/seg.ts", None),
            Err(Unsigned::UnsafePath(_))
        ));
    }

    #[test]
    fn merged_patterns_cover_every_input() {
        let m = |v: &[&str]| merge_patterns(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(m(&["h/a/x.m4s", "h/a/x.m4s"]).as_deref(), Some("h/a/x.m4s"));
        assert_eq!(m(&["h/a/x.m4s", "h/b/x.m4s"]).as_deref(), Some("h/?/x.m4s"));
        assert_eq!(
            m(&["h/800/v/s-*.m4f", "h/1000/v/s-*.m4f"]).as_deref(),
            Some("h/*00/v/s-*.m4f")
        );
        assert_eq!(m(&["ab", "abab"]).as_deref(), Some("ab*"));
        assert_eq!(
            m(&["h/v360/s-*.m4s", "h/v720/s-*.m4s"]).as_deref(),
            Some("h/v??0/s-*.m4s")
        );
        assert_eq!(m(&["h/a-*.m4s", "h/b/*"]).as_deref(), Some("h/??*"));
        assert_eq!(m(&["h/a*b*c", "h/a*c"]).as_deref(), Some("h/a*c"));
        assert_eq!(m(&[]), None);
        for set in [
            vec!["h/a/1.m4s", "h/bb/1.m4s"],
            vec!["x?y", "xzzy", "q"],
            vec!["h/a*b*c", "h/a*c"],
            vec!["h/v1/*/s-*.m4s", "h/video22/*/s-*.m4s", "h/v3/*/s-*.m4s"],
        ] {
            let merged = m(&set).unwrap();
            for p in &set {
                let probe = p.replace('?', "Q").replace('*', "");
                assert!(
                    crate::policy::wildcard_match(&merged, &probe),
                    "{merged} !~ {probe}"
                );
            }
        }
    }

    #[test]
    fn same_patterns() {
        assert!(same_pattern("seg-00001.ts", "seg-99999.ts"));
        assert!(same_pattern("hd/seg-1.ts", "hd/seg-2.ts"));
        assert!(!same_pattern("seg-1.ts", "seg-10.ts"));
        assert!(!same_pattern("seg-1.ts", "set-1.ts"));
        assert!(!same_pattern("hd/seg-1.ts", "sd/seg-1.ts"));
        assert!(
            !same_pattern("1.ts", "2.ts"),
            "no literal prefix: exact grants"
        );
        assert!(
            !same_pattern("seg-1", "seg-2"),
            "no extension: exact grants"
        );
        assert!(!same_pattern("a/1.ts", "b/2.ts"));
        // The function agrees with digit_pattern on every pair it accepts.
        for (a, b) in [
            ("seg-00001.ts", "seg-00002.ts"),
            ("x/v1_007.m4s", "x/v1_123.m4s"),
        ] {
            assert_eq!(digit_pattern(a), digit_pattern(b));
        }
    }

    #[test]
    fn patterns() {
        assert_eq!(digit_pattern("a1b22.m4s").as_deref(), Some("a1b??.m4s"));
        assert_eq!(digit_pattern("init.mp4"), None);
        assert_eq!(digit_pattern("x.ts"), None);
        assert_eq!(digit_pattern("123"), None);
        assert_eq!(digit_pattern("seg-123"), None);
        assert_eq!(digit_pattern("seg-1."), None);
        assert_eq!(digit_pattern("7.ts"), None);
        assert_eq!(digit_pattern("1732400000.ts"), None);
        assert_eq!(digit_pattern("a.b1.ts").as_deref(), Some("a.b?.ts"));
    }
}
