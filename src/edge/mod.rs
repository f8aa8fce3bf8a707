//! The function's adapters: Lambda@Edge events, function-URL events, and
//! the handler they share.
//!
//! Rust cannot run *as* Lambda@Edge (it runs only AWS's Node.js and Python
//! runtimes), so the real deployment is a regional function behind a
//! CloudFront function-URL origin. The Lambda@Edge event contract is kept
//! anyway: it keeps the code portable to an edge shim and is tested as the
//! second path.
//!
//! | module | job |
//! |---|---|
//! | [`event`] | Lambda@Edge event and response types |
//! | [`lambda`] | events in, [`PlaylistRequest`] to the handler, responses out |
//! | [`request`] | the request and response shapes the handler works on |
//! | [`viewer_grant`] | the viewer's grant, found and verified |
//! | [`handler`] | the request flow |
//! | [`response`] | headers, CORS, gzip, refusals |
//! | [`log`] | the structured log record and metrics line |

pub mod deliver;
pub mod event;
pub mod handler;
pub mod lambda;
pub mod log;
pub mod request;
pub mod response;
pub mod viewer_grant;

pub use handler::Handler;
pub use log::LogRecord;
pub use request::{Body, Outcome, PlaylistRequest, PlaylistResponse, Trigger};
