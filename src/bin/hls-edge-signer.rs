//! The Lambda bootstrap.
//!
//! Until the CloudFront event handler lands this binary only starts the
//! runtime and answers every event with an error, so a deployment fails
//! loudly instead of serving unsigned playlists.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(|_event: LambdaEvent<Value>| async {
        Err::<Value, Error>("the playlist handler is not part of this build yet".into())
    }))
    .await
}
