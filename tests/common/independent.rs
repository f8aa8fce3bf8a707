//! An independent reading of what a rewritten playlist grants, for the
//! security, property and corpus tests. Nothing here calls the crate's own
//! scanner, resolver, matcher or policy parser: URIs are found with a plain
//! line reading of RFC 8216, resolved with a small RFC 3986 resolver, policies
//! decoded with serde_json, and Resources matched with a naive recursive
//! CloudFront wildcard matcher.

use base64::Engine;
use serde_json::Value;

pub const SIGNING: [&str; 5] = [
    "Expires",
    "Policy",
    "Signature",
    "Key-Pair-Id",
    "Hash-Algorithm",
];

/// Tag → attributes that carry URIs.
const URI_TAGS: &[(&str, &[&str])] = &[
    ("#EXT-X-KEY:", &["URI"]),
    ("#EXT-X-SESSION-KEY:", &["URI"]),
    ("#EXT-X-MAP:", &["URI"]),
    ("#EXT-X-MEDIA:", &["URI"]),
    ("#EXT-X-I-FRAME-STREAM-INF:", &["URI"]),
    ("#EXT-X-IMAGE-STREAM-INF:", &["URI"]),
    ("#EXT-X-SESSION-DATA:", &["URI"]),
    ("#EXT-X-PART:", &["URI"]),
    ("#EXT-X-PRELOAD-HINT:", &["URI"]),
    ("#EXT-X-RENDITION-REPORT:", &["URI"]),
    ("#EXT-X-CONTENT-STEERING:", &["SERVER-URI"]),
    (
        "#EXT-X-DATERANGE:",
        &["X-ASSET-URI", "X-ASSET-LIST", "X-URI"],
    ),
];

// ------------------------------------------------------------------ URIs

/// Byte ranges (within `line`) of every URI on one line: a bare URI line, the
/// listed attributes of the tags above, and a quoted `URI` or `*-URI`
/// attribute of any tag (a tag outside the list whose attributes do not
/// split cleanly yields none).
pub fn uris_in_line(line: &str) -> Vec<(usize, usize)> {
    let trimmed = line.trim_end_matches(['\r', '\n']);
    let content = trimmed.trim();
    if content.is_empty() {
        return Vec::new();
    }
    if !content.starts_with('#') {
        let start = trimmed.find(content).unwrap();
        return vec![(start, start + content.len())];
    }
    if !content.starts_with("#EXT") || !content.contains(':') {
        return Vec::new();
    }
    let listed = URI_TAGS.iter().find(|(tag, _)| content.starts_with(tag));
    let tag_end = content.find(':').unwrap() + 1;
    let attributes: &[&str] = listed.map_or(&[], |(_, a)| a);
    let offset = trimmed.find(content).unwrap() + tag_end;
    let wanted = |name: &str| attributes.contains(&name) || name == "URI" || name.ends_with("-URI");
    let mut found = Vec::new();
    // Walk NAME=VALUE pairs; quoted values may hold commas.
    let bytes = trimmed.as_bytes();
    let mut i = offset;
    while i < bytes.len() {
        let name_start = i;
        while i < bytes.len() && bytes[i] != b'=' && bytes[i] != b',' {
            i += 1;
        }
        let name = trimmed[name_start..i].trim();
        if i >= bytes.len() || bytes[i] == b',' {
            if !name.is_empty() && listed.is_none() {
                return Vec::new(); // an entry without '=': the list does not split
            }
            i += 1;
            continue;
        }
        if name.contains('"') && listed.is_none() {
            return Vec::new();
        }
        i += 1; // '='
        while i < bytes.len() && (bytes[i] == b' ' || bytes[i] == b'\t') {
            i += 1;
        }
        if i < bytes.len() && bytes[i] == b'"' {
            let start = i + 1;
            let Some(len) = trimmed[start..].find('"') else {
                return if listed.is_some() { found } else { Vec::new() };
            };
            let end = start + len;
            if wanted(name) && !trimmed[start..end].trim().is_empty() {
                found.push((start, end));
            }
            i = end + 1;
            while i < bytes.len() && (bytes[i] == b' ' || bytes[i] == b'\t') {
                i += 1;
            }
            if i < bytes.len() && bytes[i] != b',' && listed.is_none() {
                return Vec::new(); // text after a quoted string
            }
        }
        while i < bytes.len() && bytes[i] != b',' {
            i += 1;
        }
        i += 1;
    }
    found
}

/// Every URI in a playlist, in order.
pub fn uris(playlist: &str) -> Vec<String> {
    playlist
        .split_inclusive('\n')
        .flat_map(|line| {
            uris_in_line(line)
                .into_iter()
                .map(move |(a, b)| line[a..b].to_owned())
        })
        .collect()
}

// ------------------------------------------------------------------ RFC 3986

/// (scheme, authority, path, query) of an absolute URL.
pub fn split_absolute(url: &str) -> (String, String, String, Option<String>) {
    let url = url.split('#').next().unwrap();
    let (scheme, rest) = url.split_once("://").unwrap();
    let (rest, query) = match rest.split_once('?') {
        Some((r, q)) => (r, Some(q.to_owned())),
        None => (rest, None),
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    (
        scheme.to_ascii_lowercase(),
        authority.to_ascii_lowercase(),
        path.to_owned(),
        query,
    )
}

pub fn remove_dots(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').collect();
    for (i, segment) in segments.iter().enumerate() {
        let last = i == segments.len() - 1;
        match *segment {
            "." => {
                if last {
                    out.push("");
                }
            }
            ".." => {
                if out.len() > 1 {
                    out.pop();
                }
                if last {
                    out.push("");
                }
            }
            s => out.push(s),
        }
    }
    let joined = out.join("/");
    if joined.starts_with('/') {
        joined
    } else {
        format!("/{joined}")
    }
}

/// Resolves a reference without fragment against an absolute base.
pub fn resolve(base: &str, reference: &str) -> String {
    let reference = reference.split('#').next().unwrap();
    if let Some(colon) = reference.find(':') {
        let scheme = &reference[..colon];
        if !scheme.is_empty()
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
            && !reference[..colon].contains(['/', '?'])
        {
            let (s, a, p, q) = split_absolute(reference);
            return join(&s, &a, &remove_dots(&p), q.as_deref());
        }
    }
    let (scheme, authority, base_path, base_query) = split_absolute(base);
    if let Some(rest) = reference.strip_prefix("//") {
        let (s, a, p, q) = split_absolute(&format!("{scheme}://{rest}"));
        return join(&s, &a, &remove_dots(&p), q.as_deref());
    }
    let (ref_path, ref_query) = match reference.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (reference, None),
    };
    if ref_path.is_empty() {
        let query = ref_query.map(str::to_owned).or(base_query);
        return join(&scheme, &authority, &base_path, query.as_deref());
    }
    let path = if ref_path.starts_with('/') {
        remove_dots(ref_path)
    } else {
        let directory = &base_path[..base_path.rfind('/').unwrap() + 1];
        remove_dots(&format!("{directory}{ref_path}"))
    };
    join(&scheme, &authority, &path, ref_query)
}

pub fn join(scheme: &str, authority: &str, path: &str, query: Option<&str>) -> String {
    match query {
        Some(q) => format!("{scheme}://{authority}{path}?{q}"),
        None => format!("{scheme}://{authority}{path}"),
    }
}

// ------------------------------------------------------------------ scope

/// Whether a resolved path is one some origin could read as leaving its
/// directory (the scope rules refuse to sign those), judged independently.
pub fn unsafe_path(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    ["%2e", "%2f", "%5c", "%00", "%25", "%u"]
        .iter()
        .any(|e| lower.contains(e))
        || path
            .bytes()
            .any(|b| !(0x21..0x7f).contains(&b) || b == b'\\')
        || path[1..].contains("//")
        || path.split('/').any(|segment| {
            let name = segment.split(';').next().unwrap().trim_end_matches(' ');
            !name.is_empty() && name.chars().all(|c| c == '.')
        })
}

/// Whether `reference`, resolved against `base`, needs more `..` than it has
/// directories above it.
pub fn climbs(base: &str, reference: &str) -> bool {
    let reference = reference.split(['?', '#']).next().unwrap();
    let path = if reference.contains("://") || reference.starts_with("//") {
        let after = reference.split_once("//").unwrap().1;
        after
            .find('/')
            .map_or("/".to_owned(), |i| after[i..].to_owned())
    } else if reference.starts_with('/') {
        reference.to_owned()
    } else {
        let (_, _, base_path, _) = split_absolute(base);
        format!(
            "{}{reference}",
            &base_path[..base_path.rfind('/').unwrap() + 1]
        )
    };
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    let mut depth: i64 = 0;
    for (i, segment) in segments.iter().enumerate() {
        match *segment {
            "." => {}
            ".." => {
                depth -= 1;
                if depth < 0 {
                    return true;
                }
            }
            _ if i + 1 == segments.len() => {}
            _ => depth += 1,
        }
    }
    false
}

// ------------------------------------------------------------------ grants

/// CloudFront's Resource matching, written as naively as possible: `*` any
/// run of characters (possibly empty), `?` exactly one character, anything
/// else itself.
pub fn cloudfront_matches(pattern: &str, text: &str) -> bool {
    fn go(
        p: &[char],
        t: &[char],
        memo: &mut std::collections::HashMap<(usize, usize), bool>,
    ) -> bool {
        if let Some(&known) = memo.get(&(p.len(), t.len())) {
            return known;
        }
        let result = match (p.first(), t.first()) {
            (None, None) => true,
            (Some('*'), _) => go(&p[1..], t, memo) || (!t.is_empty() && go(p, &t[1..], memo)),
            (Some('?'), Some(_)) => go(&p[1..], &t[1..], memo),
            (Some(a), Some(b)) if a == b => go(&p[1..], &t[1..], memo),
            _ => false,
        };
        memo.insert((p.len(), t.len()), result);
        result
    }
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    go(&p, &t, &mut std::collections::HashMap::new())
}

/// What one issued grant says, decoded independently.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issued {
    /// The URL the grant was appended to (resolved, signing parameters removed).
    pub url: String,
    pub resource: String,
    pub expires: u64,
    pub not_before: Option<u64>,
    /// `a.b.c.d/n`
    pub ip: Option<String>,
    pub canned: bool,
}

fn cf_base64(text: &str) -> Vec<u8> {
    let standard: String = text
        .chars()
        .map(|c| match c {
            '-' => '+',
            '_' => '=',
            '~' => '/',
            c => c,
        })
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(standard)
        .expect("CloudFront base64")
}

/// The signing parameters of `url` decoded, or `None` when it carries none.
pub fn issued(url: &str) -> Option<Issued> {
    let (base, query) = url.split_once('?')?;
    let pairs: Vec<(&str, &str)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').unwrap_or((p, "")))
        .collect();
    let get = |name: &str| pairs.iter().find(|(n, _)| *n == name).map(|(_, v)| *v);
    // `{$Signature}`: a placeholder the player fills in (EXT-X-DEFINE), not a grant.
    if get("Signature")?.starts_with("{$") {
        return None;
    }
    let own: Vec<&str> = query
        .split('&')
        .filter(|p| !p.is_empty() && !SIGNING.contains(&p.split('=').next().unwrap()))
        .collect();
    let url = if own.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", own.join("&"))
    };
    if let Some(expires) = get("Expires") {
        return Some(Issued {
            resource: url.clone(),
            url,
            expires: expires.parse().unwrap(),
            not_before: None,
            ip: None,
            canned: true,
        });
    }
    let policy: Value = serde_json::from_slice(&cf_base64(get("Policy")?)).unwrap();
    let statement = &policy["Statement"][0];
    let condition = &statement["Condition"];
    Some(Issued {
        url,
        resource: statement["Resource"].as_str().unwrap().to_owned(),
        expires: condition["DateLessThan"]["AWS:EpochTime"].as_u64().unwrap(),
        not_before: condition["DateGreaterThan"]["AWS:EpochTime"].as_u64(),
        ip: condition["IpAddress"]["AWS:SourceIp"]
            .as_str()
            .map(str::to_owned),
        canned: false,
    })
}

/// Every grant issued in `playlist` fetched from `base`, with the URI it sits on.
pub fn issued_grants(playlist: &str, base: &str) -> Vec<(String, Issued)> {
    uris(playlist)
        .into_iter()
        .filter_map(|uri| {
            let absolute = resolve(base, &uri);
            issued(&absolute).map(|grant| (uri, grant))
        })
        .collect()
}

/// `(network, prefix)` of an IPv4 CIDR.
pub fn cidr(text: &str) -> (u32, u32) {
    let (address, prefix) = text.split_once('/').unwrap_or((text, "32"));
    let address: std::net::Ipv4Addr = address.parse().unwrap();
    (u32::from(address), prefix.parse().unwrap())
}

/// Whether every address of `inner` is inside `outer`.
pub fn cidr_within(inner: &str, outer: &str) -> bool {
    let ((i, ip), (o, op)) = (cidr(inner), cidr(outer));
    let mask = |p: u32| if p == 0 { 0 } else { u32::MAX << (32 - p) };
    ip >= op && (i & mask(op)) == (o & mask(op))
}
