//! The setup the rewriting fuzz targets share: a rewriter for every mode,
//! with and without extra hosts and confinement, all signing with one
//! freshly generated P-256 key, and the viewer's verified grant over the
//! manifest's directory.

use hls_edge_signer::hls::rewrite::{Mode, RewriteOptions, Rewriter};
use hls_edge_signer::keys::generate_pem;
use hls_edge_signer::scope::Confinement;
use hls_edge_signer::{
    verify_request, HashAlgorithm, KeyAlgorithm, Policy, PrivateKey, RsaBackend, TrustedKeys,
    UrlSigner, VerifiedGrant,
};

pub const KEY_PAIR_ID: &str = "K2JCJMDEHXQW5F";
pub const NOW: u64 = 1_700_000_000;
const MODES: [Mode; 4] = [
    Mode::Canned,
    Mode::Wildcard,
    Mode::Directory,
    Mode::Propagate,
];

/// Query parameter names a rewriter may append.
pub const APPENDABLE: [&str; 5] = [
    "Expires",
    "Policy",
    "Signature",
    "Key-Pair-Id",
    "Hash-Algorithm",
];

pub struct Setup {
    pub rewriters: Vec<Rewriter>,
    pub grant: VerifiedGrant,
    pub viewer_url: String,
}

impl Setup {
    /// Rewriters for every (mode, `extra_hosts` or none, confinement or
    /// none) and a viewer of `viewer_url` holding a custom policy over
    /// `viewer_directory` (its directory, written out by hand).
    pub fn new(viewer_url: &str, viewer_directory: &str, extra_hosts: &[&str]) -> Setup {
        let (pem, _public) = generate_pem(KeyAlgorithm::EcdsaP256).expect("key generation");
        let key = PrivateKey::from_pem(&pem).expect("generated key parses");
        let signer = key.signer(RsaBackend::AwsLc).expect("signer");
        let url_signer =
            UrlSigner::new(signer, KEY_PAIR_ID, HashAlgorithm::Sha256).expect("url signer");
        let mut rewriters = Vec::new();
        for extra in [false, true] {
            for confine in [false, true] {
                for mode in MODES {
                    let options = RewriteOptions {
                        mode,
                        extra_hosts: if extra {
                            extra_hosts.iter().map(|h| h.to_string()).collect()
                        } else {
                            Vec::new()
                        },
                        confinement: confine.then_some(Confinement { segments: 1 }),
                        ..RewriteOptions::default()
                    };
                    rewriters.push(Rewriter::new(url_signer.clone(), options, 4096));
                }
            }
        }
        let mut trusted = TrustedKeys::new();
        trusted.insert(KEY_PAIR_ID, key.public_key().expect("public key"));
        let viewer_url = url_signer
            .sign_url(
                viewer_url,
                &Policy::custom(&format!("{viewer_directory}*"), NOW + 7200),
            )
            .expect("viewer URL");
        let grant =
            verify_request(&viewer_url, &[], &trusted, NOW, None).expect("viewer grant verifies");
        Setup {
            rewriters,
            grant,
            viewer_url,
        }
    }
}
