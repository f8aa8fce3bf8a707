//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::OnceLock;

use hls_edge_signer::keys::generate_pem;
use hls_edge_signer::KeyAlgorithm;

/// `../shared/testdata` when present (CI and development checkouts), or
/// `None` after printing one line saying why the caller is skipped.
#[allow(dead_code)]
pub mod dash_reading;
#[allow(dead_code)]
pub mod emulator;
#[allow(dead_code)]
pub mod http_origin;
#[allow(dead_code)]
pub mod independent;
#[allow(dead_code)]
pub mod stack;

pub fn shared_testdata(test: &str) -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/testdata");
    if dir.is_dir() {
        Some(dir)
    } else if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{test}: ../shared/testdata not found, and CI=true requires it");
    } else {
        println!(
            "skipped {test}: ../shared/testdata not found (oracle data lives beside the repo)"
        );
        None
    }
}

/// A key pair generated once per test binary: (private PEM, public PEM).
pub fn generated_key(algorithm: KeyAlgorithm) -> &'static (String, String) {
    static RSA: OnceLock<(String, String)> = OnceLock::new();
    static EC: OnceLock<(String, String)> = OnceLock::new();
    let cell = match algorithm {
        KeyAlgorithm::Rsa2048 => &RSA,
        KeyAlgorithm::EcdsaP256 => &EC,
    };
    cell.get_or_init(|| {
        let (private, public) = generate_pem(algorithm).expect("key generation");
        (private.to_string(), public)
    })
}

/// Query parameters of a URL as a sorted list, decoded independently of the
/// library's own parser.
pub fn query_params(url: &str) -> Vec<(String, String)> {
    let query = url.split_once('?').map_or("", |(_, q)| q);
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (k.to_owned(), v.to_owned())
        })
        .collect();
    pairs.sort();
    pairs
}
