//! Playlist rewrite time by size and mode, cold (empty signature cache, as on
//! a fresh instance) and warm (the cache already holds this bucket's
//! signatures, as on a warm instance serving a live playlist).
//!
//! The generated playlists and the RSA key are also written under
//! `target/bench-rewrite/` so `make bench` can run the Node baseline on the
//! very same inputs; output sizes go to `sizes.json` there.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use criterion::{black_box, criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion};
use hls_edge_signer::hls::rewrite::{Mode, RewriteOptions, Rewriter, Viewer};
use hls_edge_signer::keys::generate_pem;
use hls_edge_signer::{
    verify_request, HashAlgorithm, KeyAlgorithm, Policy, PrivateKey, RsaBackend, TrustedKeys,
    UrlSigner,
};

const SIZES: [usize; 4] = [10, 100, 1000, 10000];
const DIR: &str = "https://d111111abcdef8.cloudfront.net/videos/bench";
const NOW: u64 = 1_800_000_000;

/// A VOD media playlist with `segments` segments, an AES-128 key and an
/// init map — what a packager writes.
fn media_playlist(segments: usize) -> String {
    let mut text = String::from(
        "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:4\n#EXT-X-PLAYLIST-TYPE:VOD\n\
         #EXT-X-KEY:METHOD=AES-128,URI=\"key.bin\",IV=0x00000000000000000000000000000001\n\
         #EXT-X-MAP:URI=\"init.mp4\"\n",
    );
    for i in 0..segments {
        let _ = write!(text, "#EXTINF:4.000,\nsegment-{i:05}.m4s\n");
    }
    text.push_str("#EXT-X-ENDLIST\n");
    text
}

fn out_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-rewrite");
    std::fs::create_dir_all(&dir).expect("create target/bench-rewrite");
    dir
}

fn rewrite(c: &mut Criterion) {
    let (pem, _) = generate_pem(KeyAlgorithm::Rsa2048).unwrap();
    let dir = out_dir();
    std::fs::write(dir.join("key.pem"), pem.as_bytes()).unwrap();
    let key = PrivateKey::from_pem(&pem).unwrap();
    let url_signer = || {
        UrlSigner::new(
            key.signer(RsaBackend::AwsLc).unwrap(),
            "KBENCH",
            HashAlgorithm::Sha1,
        )
        .unwrap()
    };
    // The function's defaults: TTL 3600 s in 60 s buckets, `._m3u8`.
    let options = |mode| RewriteOptions {
        mode,
        ..RewriteOptions::default()
    };
    // The key is parsed once, as at cold start; "cold" measures an empty
    // signature cache, not key loading.
    let signer = url_signer();
    // The viewer holds a custom policy over the folder (as an application
    // may hand out), so `propagate` can re-use it.
    let viewer_query = signer
        .sign_policy(&Policy::custom(&format!("{DIR}/*"), NOW + 7200), false)
        .unwrap()
        .to_query();
    let viewer_url = format!("{DIR}/index._m3u8?{viewer_query}");
    let mut trusted = TrustedKeys::new();
    trusted.insert("KBENCH", key.public_key().unwrap());
    let grant = verify_request(&viewer_url, &[], &trusted, NOW, None).unwrap();
    let viewer = Viewer {
        url: &viewer_url,
        grant: &grant,
        client_ip: None,
    };

    let mut sizes = String::from("{");
    let mut group = c.benchmark_group("rewrite");
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(2));
    for n in SIZES {
        let playlist = media_playlist(n);
        std::fs::write(dir.join(format!("media-{n}.m3u8")), &playlist).unwrap();
        for mode in [
            Mode::Canned,
            Mode::Wildcard,
            Mode::Directory,
            Mode::Propagate,
        ] {
            let warm = Rewriter::new(signer.clone(), options(mode), 2 * n + 16);
            let first = warm.rewrite(&playlist, &viewer, NOW).unwrap();
            // [input bytes, output bytes, signatures on a cold cache]
            let _ = write!(
                sizes,
                "{}\"{mode}-{n}\":[{},{},{}]",
                if sizes.len() > 1 { "," } else { "" },
                playlist.len(),
                first.body.len(),
                first.stats.signatures
            );
            group.bench_with_input(BenchmarkId::new(format!("{mode}-warm"), n), &n, |b, _| {
                b.iter(|| warm.rewrite(black_box(&playlist), &viewer, NOW).unwrap())
            });
            // Canned mode cold is one RSA signature per URI: 10000 of them
            // take ~3 s per iteration, so that size is left to the per-URI
            // figure of the smaller ones.
            if mode == Mode::Canned && n > 1000 {
                continue;
            }
            group.bench_with_input(BenchmarkId::new(format!("{mode}-cold"), n), &n, |b, _| {
                b.iter_batched(
                    || Rewriter::new(signer.clone(), options(mode), 2 * n + 16),
                    |cold| cold.rewrite(black_box(&playlist), &viewer, NOW).unwrap(),
                    BatchSize::PerIteration,
                )
            });
        }
    }
    group.finish();
    sizes.push('}');
    std::fs::write(dir.join("sizes.json"), sizes).unwrap();
}

criterion_group!(benches, rewrite);
criterion_main!(benches);
