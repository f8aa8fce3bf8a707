//! Arbitrary bytes into the HLS scanner: it must never panic, and every URI it
//! reports must be a sane, non-empty slice of the input, in order.

#![no_main]

use hls_edge_signer::hls::scan::{is_playlist, scan, Carrier, ScanError, UriRef};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    check(text);
    // Most mutations lose the header; scan them again behind one so the
    // tag and attribute code sees them too.
    if !is_playlist(text) {
        check(&format!("#EXTM3U\n{text}"));
    }
});

fn check(text: &str) {
    match scan(text) {
        Ok(refs) => {
            assert!(is_playlist(text), "scan accepted a text without #EXTM3U");
            check_refs(text, &refs);
        }
        Err(ScanError::NotAPlaylist) => assert!(!is_playlist(text)),
        Err(_) => assert!(is_playlist(text)),
    }
}

fn check_refs(text: &str, refs: &[UriRef]) {
    let bytes = text.as_bytes();
    let mut previous_end = 0;
    // Line bookkeeping, advanced incrementally (the ranges only move
    // forward once the order check has passed): `line` is the 1-based line
    // of `cursor`, and `line_start` the offset where that line begins.
    let (mut cursor, mut line, mut line_start) = (0, 1, 0);
    for (i, r) in refs.iter().enumerate() {
        let range = r.range.clone();
        assert!(range.start < range.end, "#{i}: empty range {range:?}");
        assert!(range.end <= text.len(), "#{i}: {range:?} out of bounds");
        assert!(
            text.is_char_boundary(range.start) && text.is_char_boundary(range.end),
            "#{i}: {range:?} not on char boundaries"
        );
        assert!(
            i == 0 || range.start >= previous_end,
            "#{i}: {range:?} overlaps or precedes the previous URI (ended at {previous_end})"
        );
        previous_end = range.end;

        let uri = &text[range.clone()];
        assert!(!uri.contains('\n'), "#{i}: URI spans a line break");
        for (offset, &b) in bytes[cursor..range.start].iter().enumerate() {
            if b == b'\n' {
                line += 1;
                line_start = cursor + offset + 1;
            }
        }
        cursor = range.start;
        assert_eq!(r.line, line, "#{i}: wrong line number");

        match r.carrier {
            Carrier::Segment | Carrier::VariantStream => {
                // A whole trimmed line that is not a tag or comment.
                assert!(!uri.starts_with('#'), "#{i}: bare URI starts with '#'");
                assert!(!uri.starts_with([' ', '\t']), "#{i}: untrimmed start");
                assert!(!uri.ends_with([' ', '\t', '\r']), "#{i}: untrimmed end");
                let before = without_bom(text, line_start, range.start);
                assert!(
                    before.bytes().all(|b| b == b' ' || b == b'\t'),
                    "#{i}: text before a bare URI on its line"
                );
                let line_end = bytes[range.end..]
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(bytes.len(), |p| range.end + p);
                assert!(
                    text[range.end..line_end]
                        .bytes()
                        .all(|b| matches!(b, b' ' | b'\t' | b'\r')),
                    "#{i}: text after a bare URI on its line"
                );
            }
            Carrier::Attribute { .. } | Carrier::OtherAttribute => {
                // Between the quotes of a quoted string, on a line of that
                // tag (any tag, for a `URI` / `*-URI` of another tag).
                assert!(
                    range.start > 0 && bytes[range.start - 1] == b'"',
                    "#{i}: no opening quote"
                );
                assert_eq!(bytes.get(range.end), Some(&b'"'), "#{i}: no closing quote");
                assert!(!uri.contains('"'), "#{i}: quote inside a quoted URI");
                assert!(
                    !uri.bytes().all(|b| b == b' ' || b == b'\t'),
                    "#{i}: blank URI attribute reported"
                );
                let head =
                    without_bom(text, line_start, range.start).trim_start_matches([' ', '\t']);
                match r.carrier {
                    Carrier::Attribute { tag, .. } => {
                        let expected = format!("#{tag}:");
                        assert!(head.starts_with(&expected), "#{i}: URI not on a {tag} line");
                    }
                    _ => assert!(
                        head.starts_with("#EXT"),
                        "#{i}: URI attribute off a tag line"
                    ),
                }
            }
        }
    }
}

/// `text[start..end]`, without the BOM when it is the start of the text.
fn without_bom(text: &str, start: usize, end: usize) -> &str {
    let slice = &text[start..end];
    if start == 0 {
        slice.strip_prefix('\u{FEFF}').unwrap_or(slice)
    } else {
        slice
    }
}
