//! DASH: MPD manifests protected the same way as HLS playlists.
//!
//! [`scan`] finds every URL a DASH player will request in an MPD (every
//! `BaseURL` level, `SegmentTemplate@media/@initialization/@index`,
//! `SegmentURL@media/@index`, `Initialization@sourceURL`,
//! `RepresentationIndex@sourceURL`, `Location`, `PatchLocation`, and the
//! `xlink:href` of remote elements); [`rewrite`] grants each one under the
//! same security model as HLS and splices the signing parameters into the
//! document, leaving every other byte as it was.

pub mod rewrite;
pub mod scan;
