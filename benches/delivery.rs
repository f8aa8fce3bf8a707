//! A live window of 1000 segments reloaded 100 times (one new segment per
//! reload, the clock moving 4 s each time), in every delivery: function time
//! per reload, and bytes on the wire per reload (the manifest raw and
//! gzipped, plus `Set-Cookie` headers). A warm instance: the signature cache
//! is shared across the reloads, as on a function serving a live stream.
//!
//! Sizes go to `target/bench-rewrite/delivery.json` for the `make bench`
//! report: `{"<delivery>": [raw bytes, gzip bytes, cookie header bytes,
//! signatures over the 100 reloads]}` (averages per reload but the last).

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use hls_edge_signer::delivery::{self, Delivery};
use hls_edge_signer::edge::deliver::{CookieSettings, Delivered, Job};
use hls_edge_signer::hls::rewrite::{Mode, RewriteOptions, Rewriter, Viewer};
use hls_edge_signer::keys::generate_pem;
use hls_edge_signer::manifest::ManifestFormat;
use hls_edge_signer::{
    verify_request, HashAlgorithm, KeyAlgorithm, Policy, PrivateKey, RsaBackend, TrustedKeys,
    UrlSigner, VerifiedGrant,
};

const DIR: &str = "https://d111111abcdef8.cloudfront.net/live/bench/";
const NOW: u64 = 1_800_000_000;
const WINDOW: usize = 1000;
const RELOADS: usize = 100;

/// The live media playlist at reload `n`: segments `n .. n + WINDOW`.
fn live_window(n: usize) -> String {
    let mut text = format!(
        "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:{n}\n\
         #EXT-X-KEY:METHOD=AES-128,URI=\"key.bin\"\n#EXT-X-MAP:URI=\"init.mp4\"\n"
    );
    for i in n..n + WINDOW {
        let _ = write!(text, "#EXTINF:4.000,\nsegment-{i:07}.m4s\n");
    }
    text
}

fn gzip_len(text: &str) -> usize {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(text.as_bytes()).unwrap();
    encoder.finish().unwrap().len()
}

struct Setup {
    rewriter: Rewriter,
    grant: VerifiedGrant,
    viewer_url: String,
}

fn setup(signer: &UrlSigner, mode: Mode) -> Setup {
    // The viewer holds a policy over the stream's folder, so every delivery
    // applies (the carrying ones need it).
    let url = format!("{DIR}index._m3u8");
    let viewer_url = signer
        .sign_url(&url, &Policy::custom(&format!("{DIR}*"), NOW + 7200))
        .unwrap();
    let mut trusted = TrustedKeys::new();
    trusted.insert("KBENCH", signer_public());
    let grant = verify_request(&viewer_url, &[], &trusted, NOW, None).unwrap();
    let options = RewriteOptions {
        mode,
        ..RewriteOptions::default()
    };
    Setup {
        rewriter: Rewriter::new(signer.clone(), options, 4096),
        grant,
        viewer_url,
    }
}

static KEY: std::sync::OnceLock<(PrivateKey, hls_edge_signer::PublicKey)> =
    std::sync::OnceLock::new();

fn key() -> &'static (PrivateKey, hls_edge_signer::PublicKey) {
    KEY.get_or_init(|| {
        let (pem, public) = generate_pem(KeyAlgorithm::Rsa2048).unwrap();
        (
            PrivateKey::from_pem(&pem).unwrap(),
            hls_edge_signer::PublicKey::from_pem(&public).unwrap(),
        )
    })
}

fn signer_public() -> hls_edge_signer::PublicKey {
    key().1.clone()
}

fn reload(setup: &Setup, delivery: Delivery, n: usize, playlist: &str) -> Delivered {
    let plan = delivery::choose(
        delivery,
        None,
        &setup.grant,
        delivery::tree(&setup.viewer_url),
    );
    let job = Job {
        rewriter: &setup.rewriter,
        format: ManifestFormat::Hls,
        body: playlist,
        viewer: Viewer {
            url: &setup.viewer_url,
            grant: &setup.grant,
            client_ip: None,
        },
        now: NOW + 4 * n as u64,
        requested_pair: None,
        cookies: CookieSettings {
            domain: None,
            same_site: "Lax",
        },
    };
    job.run(plan).unwrap()
}

fn deliveries(c: &mut Criterion) {
    let signer = UrlSigner::new(
        key().0.signer(RsaBackend::AwsLc).unwrap(),
        "KBENCH",
        HashAlgorithm::Sha1,
    )
    .unwrap();
    let playlists: Vec<String> = (0..RELOADS).map(live_window).collect();
    let cases = [
        ("rewrite-wildcard", Mode::Wildcard, Delivery::Rewrite),
        ("rewrite-canned", Mode::Canned, Delivery::Rewrite),
        ("cookies", Mode::Wildcard, Delivery::Cookies),
        ("define", Mode::Wildcard, Delivery::Query),
    ];
    let mut sizes = String::from("{");
    let mut group = c.benchmark_group("delivery");
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(3));
    for (name, mode, delivery) in cases {
        let setup = setup(&signer, mode);
        // One pass for the sizes (and to warm the cache).
        let (mut raw, mut gzip, mut cookie_bytes, mut signatures) = (0, 0, 0, 0);
        for (n, playlist) in playlists.iter().enumerate() {
            let out = reload(&setup, delivery, n, playlist);
            assert_eq!(out.name, name.split('-').next().unwrap(), "{name}");
            raw += out.rewritten.body.len();
            gzip += gzip_len(&out.rewritten.body);
            cookie_bytes += out
                .set_cookies
                .iter()
                .map(|c| "set-cookie: ".len() + c.len() + 2)
                .sum::<usize>();
            signatures += out.rewritten.stats.signatures;
        }
        let _ = write!(
            sizes,
            "{}\"{name}\":[{},{},{},{signatures}]",
            if sizes.len() > 1 { "," } else { "" },
            raw / RELOADS,
            gzip / RELOADS,
            cookie_bytes / RELOADS,
        );
        group.bench_function(format!("{name}/{RELOADS}-reloads"), |b| {
            b.iter(|| {
                for (n, playlist) in playlists.iter().enumerate() {
                    black_box(reload(&setup, delivery, n, black_box(playlist)));
                }
            })
        });
    }
    group.finish();
    sizes.push('}');
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-rewrite");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("delivery.json"), sizes).unwrap();
}

criterion_group!(benches, deliveries);
criterion_main!(benches);
