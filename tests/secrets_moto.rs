//! The Secrets Manager key source against a real Secrets Manager API:
//! moto's server on loopback, driven through the real AWS SDK client —
//! first fetch, rotation picked up after the refresh time, and an outage
//! (server stopped) served from the cached key until the stale limit.

mod common;

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::generated_key;
use hls_edge_signer::config::RawConfig;
use hls_edge_signer::edge::lambda::handle_event;
use hls_edge_signer::edge::Handler;
use hls_edge_signer::keys::generate_pem;
use hls_edge_signer::secrets::{KeyCache, KeySource, KeySourceError};
use hls_edge_signer::KeyAlgorithm;
use serde_json::json;

const SECRET: &str = "hls-edge-signer/test-key";

struct Moto {
    child: Child,
    endpoint: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts moto's server on a free loopback port, or explains why not.
fn start_moto() -> Option<Moto> {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = match Command::new("moto_server")
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
    {
        Ok(child) => child,
        Err(e) => {
            assert!(
                std::env::var_os("HLS_REQUIRE_E2E").is_none(),
                "moto_server is required here: {e}"
            );
            println!("skipped: moto_server not installed (pip install 'moto[server]')");
            return None;
        }
    };
    let moto = Moto {
        child,
        endpoint: format!("http://127.0.0.1:{port}"),
    };
    // Bounded wait for the port to accept connections.
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Some(moto);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("moto_server did not start within 10 s");
}

fn aws_test_credentials() {
    // Fixed, fake credentials: moto accepts any; nothing leaves loopback.
    std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
    std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
    std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
}

async fn sdk_client(endpoint: &str) -> aws_sdk_secretsmanager::Client {
    let shared = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .load()
        .await;
    aws_sdk_secretsmanager::Client::new(&shared)
}

fn config(endpoint: &str) -> hls_edge_signer::config::Config {
    RawConfig::from_json(
        &json!({
            "key": {
                "secret_id": SECRET,
                "endpoint": endpoint,
                "refresh_seconds": 300,
                "stale_limit_seconds": 600
            },
            // The sample events are signed with this key (scripts/make-events.py).
            "trusted_keys": {"KSAMPLEEVENTS": "@events/sample-events-public.pem"}
        })
        .to_string(),
    )
    .unwrap()
    .validate()
    .unwrap()
}

fn secret_json(pem: &str, key_pair_id: &str) -> String {
    json!({"private_key": pem, "key_pair_id": key_pair_id}).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_and_outage() {
    let Some(moto) = start_moto() else { return };
    aws_test_credentials();
    let client = sdk_client(&moto.endpoint).await;
    let (first, _) = generate_pem(KeyAlgorithm::EcdsaP256).unwrap();
    client
        .create_secret()
        .name(SECRET)
        .secret_string(secret_json(&first, "KFIRST"))
        .send()
        .await
        .unwrap();

    let config = config(&moto.endpoint);
    let cache = KeyCache::new(KeySource::from_config(&config.key_source).await, &config);
    let t0 = 1_800_000_000;
    let key = cache.get(t0).await.unwrap();
    assert_eq!(key.signer.key_pair_id(), "KFIRST");

    // Rotate: the new key is used once the refresh time has passed.
    let (second, _) = generate_pem(KeyAlgorithm::EcdsaP256).unwrap();
    client
        .put_secret_value()
        .secret_id(SECRET)
        .secret_string(secret_json(&second, "KSECOND"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        cache.get(t0 + 299).await.unwrap().signer.key_pair_id(),
        "KFIRST"
    );
    let rotated = cache.get(t0 + 300).await.unwrap();
    assert_eq!(rotated.signer.key_pair_id(), "KSECOND");
    assert_eq!(rotated.generation, key.generation + 1);

    // Outage: the cached key keeps serving up to the stale limit…
    drop(moto);
    let stale = cache.get(t0 + 300 + 300 + 10).await.unwrap();
    assert_eq!(stale.signer.key_pair_id(), "KSECOND");
    let degraded = cache.degraded().expect("degradation is reported");
    assert!(degraded.contains(SECRET), "{degraded}");
    // …then fails with a clear error.
    match cache.get(t0 + 300 + 300 + 601).await {
        Err(KeySourceError::StaleLimit { limit, .. }) => assert_eq!(limit, 600),
        Err(other) => panic!("unexpected error: {other}"),
        Ok(_) => panic!("a key past the stale limit was served"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handler_signs_with_the_secret_key() {
    let Some(moto) = start_moto() else { return };
    aws_test_credentials();
    let client = sdk_client(&moto.endpoint).await;
    let (private, _) = generated_key(KeyAlgorithm::Rsa2048);
    client
        .create_secret()
        .name(SECRET)
        .secret_string(secret_json(private, "KRSA"))
        .send()
        .await
        .unwrap();
    let origin = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("events/origin");
    let handler = Handler::from_config(config(&moto.endpoint), Some(origin))
        .await
        .unwrap();
    let text = std::fs::read_to_string(
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("events/origin-request.json"),
    )
    .unwrap();
    let (response, log) = handle_event(
        &handler,
        serde_json::from_str(&text).unwrap(),
        1_800_000_000,
    )
    .await
    .unwrap();
    assert_eq!(response["status"], "200", "{log:?}");
    assert!(log.signatures > 0);
    let line = log.json_line();
    assert!(
        !line.contains("PRIVATE") && !line.contains("Signature="),
        "{line}"
    );

    // A secret that is not a key: a clear 500, the content never echoed.
    client
        .put_secret_value()
        .secret_id(SECRET)
        .secret_string("hunter2-not-a-key")
        .send()
        .await
        .unwrap();
    let fresh = Handler::from_config(config(&moto.endpoint), None)
        .await
        .unwrap();
    let (response, log) = handle_event(&fresh, serde_json::from_str(&text).unwrap(), 1_800_000_000)
        .await
        .unwrap();
    assert_eq!(response["status"], "500");
    let reason = log.reason.unwrap();
    assert!(
        reason.contains("not usable") && !reason.contains("hunter2"),
        "{reason}"
    );
}
