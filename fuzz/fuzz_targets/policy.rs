//! Arbitrary bytes as a CloudFront policy: parsing must never panic; a
//! policy that parses re-serialises to JSON that parses to the same policy,
//! and matching it against any URL (the input's tail) never panics and
//! agrees with a naive matcher on short inputs.

#![no_main]

use hls_edge_signer::policy::{wildcard_match, Policy};
use libfuzzer_sys::fuzz_target;

/// The definition, written as plainly as possible (exponential: short inputs only).
fn naive(p: &[char], t: &[char]) -> bool {
    match (p.first(), t.first()) {
        (None, None) => true,
        (Some('*'), _) => naive(&p[1..], t) || (!t.is_empty() && naive(p, &t[1..])),
        (Some('?'), Some(_)) => naive(&p[1..], &t[1..]),
        (Some(a), Some(b)) if a == b => naive(&p[1..], &t[1..]),
        _ => false,
    }
}

fuzz_target!(|data: &[u8]| {
    // The input is the policy JSON, optionally followed by NUL and a URL.
    let (json, url) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &b""[..]),
    };
    let url = String::from_utf8_lossy(url);
    if let Ok(policy) = Policy::from_json(json) {
        let again = Policy::from_json(policy.to_json().as_bytes())
            .expect("a parsed policy re-serialises to a valid one");
        assert_eq!(again, policy);
        assert_eq!(again.to_json(), policy.to_json());
        let _ = policy.admits(&url, 1_800_000_000, "192.0.2.1".parse().ok());
        let resource: Vec<char> = policy.resource().chars().collect();
        let text: Vec<char> = url.chars().collect();
        if resource.len() <= 12 && text.len() <= 16 {
            assert_eq!(
                wildcard_match(policy.resource(), &url),
                naive(&resource, &text)
            );
        }
    }
});
