//! # hls-edge-signer
//!
//! Protects HLS and DASH video behind CloudFront signed URLs. A viewer
//! fetches `https://<dist>/path/index._m3u8` (or `stream._mpd`) with a
//! signed URL or signed cookies; CloudFront checks it and hands the request
//! to this function, which:
//!
//! 1. verifies the viewer's grant ([`verify`]) and maps the path back to
//!    the origin manifest (`index.m3u8`, `stream.mpd`; [`manifest`]);
//! 2. rewrites every URI the manifest carries into a signed URL
//!    ([`hls`], [`dash`]; [`scope`] and [`grant`] decide what each grant
//!    may cover, [`policy`] builds the policy, a [`signer`] backend signs
//!    it, [`signed_url`] formats the parameters);
//! 3. renames child playlists to `._m3u8` (an MPD `Location` to `._mpd`)
//!    so they come back through here;
//! 4. returns the rewritten manifest as the generated response.
//!
//! The core — [`policy`], [`signer`], [`keys`], [`signed_url`], [`grant`],
//! [`scope`], [`manifest`], [`hls`], [`dash`] — does no I/O: every function takes its inputs (including the
//! clock) as arguments. The adapters around it — [`edge`] (events and the
//! handler), [`origin`] (playlist fetch), [`secrets`] (key cache),
//! [`config`] — are shared by the Lambda binary and the `hls-sign` CLI, so
//! every entry point takes one path into the core.

pub mod cf_base64;
pub mod config;
pub mod dash;
pub mod delivery;
pub mod edge;
pub mod emulator;
pub mod grant;
pub mod hls;
pub mod keys;
pub mod live;
pub mod manifest;
pub mod origin;
pub mod paths;
pub mod policy;
pub mod scope;
pub mod secrets;
pub mod signature_cache;
pub mod signed_url;
pub mod signer;
pub mod uri;
pub mod verify;

pub use keys::{PrivateKey, PublicKey};
pub use policy::{Condition, Ipv4Cidr, Policy};
pub use signed_url::UrlSigner;
pub use signer::{HashAlgorithm, KeyAlgorithm, RsaBackend, Signer};
pub use verify::{
    verify_request, ErrorCode, Rejection, TrustedKeys, UnverifiedGrant, VerifiedGrant,
};
