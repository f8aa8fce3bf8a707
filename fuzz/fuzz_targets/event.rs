//! Arbitrary bytes as a Lambda event (Lambda@Edge or function URL) into the
//! real handler: no panic, ever. Malformed JSON or a malformed event is an
//! error; anything handled answers with a status the handler documents, and
//! never signs for a request that carries no grant.

#![no_main]

use std::sync::OnceLock;

use hls_edge_signer::config::RawConfig;
use hls_edge_signer::edge::lambda::handle_event;
use hls_edge_signer::edge::Handler;
use hls_edge_signer::keys::generate_pem;
use hls_edge_signer::KeyAlgorithm;
use libfuzzer_sys::fuzz_target;

struct Setup {
    runtime: tokio::runtime::Runtime,
    handler: Handler,
}

fn setup() -> &'static Setup {
    static SETUP: OnceLock<Setup> = OnceLock::new();
    SETUP.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("hls-fuzz-event-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("origin/v")).expect("scratch dir");
        std::fs::write(
            dir.join("origin/v/index.m3u8"),
            "#EXTM3U\n#EXT-X-KEY:METHOD=AES-128,URI=\"k.key\"\n#EXTINF:4,\nseg-001.ts\n\
             #EXT-X-STREAM-INF:BANDWIDTH=1\nhd/index.m3u8\n",
        )
        .expect("playlist");
        let (pem, _) = generate_pem(KeyAlgorithm::EcdsaP256).expect("key");
        std::fs::write(dir.join("key.pem"), pem.as_bytes()).expect("key file");
        let config = format!(
            r#"{{"key": {{"file": "{}"}}, "key_pair_id": "KFUZZ", "distribution_host": "d111111abcdef8.cloudfront.net"}}"#,
            dir.join("key.pem").display()
        );
        let config = RawConfig::from_json(&config)
            .and_then(RawConfig::validate)
            .expect("config");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let handler = runtime
            .block_on(Handler::from_config(config, Some(dir.join("origin"))))
            .expect("handler");
        Setup { runtime, handler }
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(event) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let setup = setup();
    let text = event.to_string();
    let result = setup
        .runtime
        .block_on(handle_event(&setup.handler, event, 1_800_000_000));
    if let Ok((response, log)) = result {
        assert!(
            [0, 200, 400, 403, 404, 405, 500, 502, 504].contains(&log.status),
            "undocumented status {}",
            log.status
        );
        if !text.contains("Signature") {
            assert_eq!(log.signatures, 0, "signed without a grant");
            assert!(!response.to_string().contains("Signature="));
        }
    }
});
