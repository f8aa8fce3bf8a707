//! Per-signature cost of each backend, for `make bench` to set beside
//! `openssl speed`. Keys are generated here, so the bench runs anywhere.

use std::time::Duration;

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use hls_edge_signer::keys::generate_pem;
use hls_edge_signer::{HashAlgorithm, KeyAlgorithm, Policy, PrivateKey, RsaBackend};

fn signing(c: &mut Criterion) {
    let policy = Policy::custom(
        "https://d111111abcdef8.cloudfront.net/videos/*",
        1_767_225_600,
    )
    .to_json();
    let rsa = PrivateKey::from_pem(&generate_pem(KeyAlgorithm::Rsa2048).unwrap().0).unwrap();
    let ec = PrivateKey::from_pem(&generate_pem(KeyAlgorithm::EcdsaP256).unwrap().0).unwrap();
    let cases = [
        (
            "aws-lc-rsa2048-sha1",
            &rsa,
            RsaBackend::AwsLc,
            HashAlgorithm::Sha1,
        ),
        (
            "aws-lc-rsa2048-sha256",
            &rsa,
            RsaBackend::AwsLc,
            HashAlgorithm::Sha256,
        ),
        (
            "rsa-crate-rsa2048-sha1",
            &rsa,
            RsaBackend::RsaCrate,
            HashAlgorithm::Sha1,
        ),
        (
            "aws-lc-ecdsa-p256-sha256",
            &ec,
            RsaBackend::AwsLc,
            HashAlgorithm::Sha256,
        ),
    ];
    let mut group = c.benchmark_group("sign");
    group.measurement_time(Duration::from_secs(4));
    group.warm_up_time(Duration::from_secs(1));
    for (name, key, backend, hash) in cases {
        let signer = key.signer(backend).unwrap();
        group.bench_function(name, |b| {
            b.iter(|| signer.sign(black_box(policy.as_bytes()), hash).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, signing);
criterion_main!(benches);
