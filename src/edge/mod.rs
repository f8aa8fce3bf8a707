//! The function's adapters: Lambda@Edge events, function-URL events, and
//! the handler they share.
//!
//! Rust cannot run *as* Lambda@Edge (it runs only AWS's Node.js and Python
//! runtimes), so the real deployment is a regional function behind a
//! CloudFront function-URL origin. The Lambda@Edge event contract is kept
//! anyway: it is how the function is invoked locally and by the emulator,
//! and it keeps the code portable to an edge shim.

pub mod event;
pub mod handler;
pub mod lambda;

pub use handler::{Body, Handler, LogRecord, Outcome, PlaylistRequest, PlaylistResponse, Trigger};
