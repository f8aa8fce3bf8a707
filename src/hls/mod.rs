//! HLS playlists: a lossless scanner and the URI rewriter.

pub mod rewrite;
pub mod scan;
