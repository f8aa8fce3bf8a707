//! The Lambda bootstrap: load and validate the configuration, build the
//! handler's clients once, then serve events (Lambda@Edge-shaped or
//! function-URL) until the instance is retired.
//!
//! Each request prints one JSON log line and one CloudWatch EMF metrics
//! line on stdout; neither holds keys or signatures.

// The AWS SDK client futures nest deeply.
#![recursion_limit = "256"]

use std::time::{SystemTime, UNIX_EPOCH};

use hls_edge_signer::config::Config;
use hls_edge_signer::edge::lambda::handle_event;
use hls_edge_signer::edge::Handler;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let config = Config::load().inspect_err(|e| {
        eprintln!("{}", serde_json::json!({"level": "error", "msg": "invalid configuration", "error": e.to_string()}));
    })?;
    let handler = Handler::from_config(config, None).await?;
    // Fetch the key and make one signature now, in Lambda's init phase
    // (full CPU, before any viewer waits): AWS-LC seeds its random
    // generator from CPU jitter on first use, about 30 ms. A failure here
    // is only logged; requests retry the key source.
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    if let Err(e) = handler.warm_up(now.as_secs()).await {
        println!(
            "{}",
            serde_json::json!({"level": "warn", "msg": "key not loaded at init", "error": e.to_string()})
        );
    }
    let handler = &handler;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        match handle_event(handler, event.payload, now.as_secs()).await {
            Ok((response, log)) => {
                println!("{}", log.json_line());
                println!("{}", log.emf_line(now.as_millis() as u64));
                Ok::<Value, Error>(response)
            }
            Err(e) => {
                println!("{}", serde_json::json!({"level": "error", "msg": "event not handled", "error": e.to_string()}));
                Err(e.into())
            }
        }
    }))
    .await
}
