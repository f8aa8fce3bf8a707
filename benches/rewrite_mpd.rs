//! MPD rewrite time and size: a two-hour SegmentTemplate MPD (by duration,
//! and with a SegmentTimeline listing every segment) and a 1000-entry
//! SegmentList MPD, cold (empty signature cache) and warm, in the modes that
//! differ for them. Sizes go to `target/bench-rewrite/mpd-sizes.json` for
//! `make bench`'s table, beside the HLS figures.

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

const DIR: &str = "https://d111111abcdef8.cloudfront.net/videos/bench";
const NOW: u64 = 1_800_000_000;
/// Two hours of 2-second segments.
const SEGMENTS_2H: usize = 3600;

const HEAD: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" mediaPresentationDuration="PT2H"
     minBufferTime="PT2S" profiles="urn:mpeg:dash:profile:isoff-live:2011">
  <Period id="0" start="PT0S">
"#;

/// Four video Representations and one audio, a template per AdaptationSet;
/// `timeline` lists every segment in a SegmentTimeline (varying durations,
/// so nothing folds into `@r`).
fn template_mpd(timeline: bool) -> String {
    let mut text = String::from(HEAD);
    for (set, reps, media) in [
        (
            "video",
            &["v1", "v2", "v3", "v4"][..],
            "video/$RepresentationID$/seg-$Number%05d$.m4s",
        ),
        (
            "audio",
            &["a1"][..],
            "audio/$RepresentationID$/seg-$Number%05d$.m4a",
        ),
    ] {
        let _ = write!(
            text,
            "    <AdaptationSet contentType=\"{set}\" segmentAlignment=\"true\">\n      \
             <SegmentTemplate timescale=\"1000\" startNumber=\"1\" initialization=\"{set}/$RepresentationID$/init.mp4\" media=\"{media}\""
        );
        if timeline {
            text.push_str(">\n        <SegmentTimeline>\n");
            let mut t = 0;
            for i in 0..SEGMENTS_2H {
                let d = if i % 2 == 0 { 2002 } else { 1998 };
                let _ = writeln!(text, "          <S t=\"{t}\" d=\"{d}\"/>");
                t += d;
            }
            text.push_str("        </SegmentTimeline>\n      </SegmentTemplate>\n");
        } else {
            text.push_str(" duration=\"2000\"/>\n");
        }
        for (i, id) in reps.iter().enumerate() {
            let _ = writeln!(
                text,
                "      <Representation id=\"{id}\" bandwidth=\"{}\" codecs=\"avc1.64001f\"/>",
                (i + 1) * 1_000_000
            );
        }
        text.push_str("    </AdaptationSet>\n");
    }
    text.push_str("  </Period>\n</MPD>\n");
    text
}

/// One Representation listing 1000 segments.
fn list_mpd(entries: usize) -> String {
    let mut text = String::from(HEAD);
    text.push_str(
        "    <AdaptationSet contentType=\"video\">\n      <Representation id=\"hd\" bandwidth=\"3000000\">\n        \
         <SegmentList timescale=\"1000\" duration=\"2000\">\n          <Initialization sourceURL=\"hd/init.mp4\"/>\n",
    );
    for i in 1..=entries {
        let _ = writeln!(text, "          <SegmentURL media=\"hd/seg-{i:05}.m4s\"/>");
    }
    text.push_str("        </SegmentList>\n      </Representation>\n    </AdaptationSet>\n  </Period>\n</MPD>\n");
    text
}

fn rewrite_mpd(c: &mut Criterion) {
    let (pem, _) = generate_pem(KeyAlgorithm::Rsa2048).unwrap();
    let key = PrivateKey::from_pem(&pem).unwrap();
    let signer = UrlSigner::new(
        key.signer(RsaBackend::AwsLc).unwrap(),
        "KBENCH",
        HashAlgorithm::Sha1,
    )
    .unwrap();
    let viewer_query = signer
        .sign_policy(&Policy::custom(&format!("{DIR}/*"), NOW + 7200), false)
        .unwrap()
        .to_query();
    let viewer_url = format!("{DIR}/stream._mpd?{viewer_query}");
    let mut trusted = TrustedKeys::new();
    trusted.insert("KBENCH", key.public_key().unwrap());
    let grant = verify_request(&viewer_url, &[], &trusted, NOW, None).unwrap();
    let viewer = Viewer {
        url: &viewer_url,
        grant: &grant,
        client_ip: None,
    };
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-rewrite");
    std::fs::create_dir_all(&dir).unwrap();

    let mut sizes = String::from("{");
    let mut group = c.benchmark_group("rewrite-mpd");
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(2));
    for (name, mpd) in [
        ("template-2h", template_mpd(false)),
        ("timeline-2h", template_mpd(true)),
        ("list-1000", list_mpd(1000)),
    ] {
        for mode in [Mode::Wildcard, Mode::Canned, Mode::Directory] {
            let options = RewriteOptions {
                mode,
                ..RewriteOptions::default()
            };
            let warm = Rewriter::new(signer.clone(), options.clone(), 4096);
            let first = warm.rewrite_mpd(&mpd, &viewer, NOW).unwrap();
            let _ = write!(
                sizes,
                "{}\"{mode}-{name}\":[{},{},{},{}]",
                if sizes.len() > 1 { "," } else { "" },
                mpd.len(),
                first.body.len(),
                first.stats.signatures,
                first.stats.uris
            );
            group.bench_with_input(
                BenchmarkId::new(format!("{mode}-warm"), name),
                &name,
                |b, _| b.iter(|| warm.rewrite_mpd(black_box(&mpd), &viewer, NOW).unwrap()),
            );
            // Canned over a SegmentList is one RSA signature per entry: its
            // cold time is that many signatures (see the signing table).
            if mode == Mode::Canned && name == "list-1000" {
                continue;
            }
            group.bench_with_input(
                BenchmarkId::new(format!("{mode}-cold"), name),
                &name,
                |b, _| {
                    b.iter_batched(
                        || Rewriter::new(signer.clone(), options.clone(), 4096),
                        |cold| cold.rewrite_mpd(black_box(&mpd), &viewer, NOW).unwrap(),
                        BatchSize::PerIteration,
                    )
                },
            );
        }
    }
    group.finish();
    sizes.push('}');
    std::fs::write(dir.join("mpd-sizes.json"), sizes).unwrap();
}

criterion_group!(benches, rewrite_mpd);
criterion_main!(benches);
