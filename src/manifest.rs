//! Which manifest a request is for: an HLS playlist or a DASH MPD, told by
//! its routing suffix (`._m3u8`, `._mpd`) or, where there is no route (the
//! CLI reading a file), by the text.

/// A manifest format the function rewrites.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ManifestFormat {
    Hls,
    Dash,
}

impl ManifestFormat {
    /// The origin object's extension, which the routing suffix stands for.
    pub fn origin_extension(self) -> &'static str {
        match self {
            Self::Hls => ".m3u8",
            Self::Dash => ".mpd",
        }
    }

    /// The response's `Content-Type`.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Hls => "application/vnd.apple.mpegurl",
            Self::Dash => "application/dash+xml",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hls => "hls",
            Self::Dash => "dash",
        }
    }

    /// Guesses the format of a manifest's text: an XML document whose root
    /// is `MPD` is DASH, anything else is read as HLS (whose reader then
    /// says what is wrong with it).
    ///
    /// ```
    /// use hls_edge_signer::manifest::ManifestFormat;
    /// assert_eq!(ManifestFormat::sniff("<?xml version=\"1.0\"?>\n<MPD/>"), ManifestFormat::Dash);
    /// assert_eq!(ManifestFormat::sniff("#EXTM3U\n"), ManifestFormat::Hls);
    /// assert_eq!(ManifestFormat::sniff("<html/>"), ManifestFormat::Hls);
    /// ```
    pub fn sniff(text: &str) -> Self {
        let text = text.trim_start_matches('\u{feff}').trim_start();
        if text.starts_with('<') && text.contains("<MPD") {
            Self::Dash
        } else {
            Self::Hls
        }
    }
}

/// The routing suffixes: what a manifest URL ends with so that CloudFront
/// sends it to the function (an empty configured suffix means the origin
/// extension itself).
#[derive(Clone, Copy, Debug)]
pub struct Routes<'a> {
    pub hls: &'a str,
    pub dash: &'a str,
}

/// A path routed to the function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Route<'p> {
    pub format: ManifestFormat,
    /// The path without its routing suffix.
    pub stem: &'p str,
}

impl Route<'_> {
    /// The origin object's path (`stem` + `.m3u8` / `.mpd`).
    pub fn origin_path(&self) -> String {
        format!("{}{}", self.stem, self.format.origin_extension())
    }
}

impl<'a> Routes<'a> {
    /// The suffix a format's requests end with.
    pub fn suffix(&self, format: ManifestFormat) -> &'a str {
        let configured = match format {
            ManifestFormat::Hls => self.hls,
            ManifestFormat::Dash => self.dash,
        };
        if configured.is_empty() {
            format.origin_extension()
        } else {
            configured
        }
    }

    /// The route of `path`, if it ends with a routing suffix.
    ///
    /// ```
    /// use hls_edge_signer::manifest::{ManifestFormat, Routes};
    /// let routes = Routes { hls: "._m3u8", dash: "._mpd" };
    /// let route = routes.route("/v/stream._mpd").unwrap();
    /// assert_eq!(route.format, ManifestFormat::Dash);
    /// assert_eq!(route.origin_path(), "/v/stream.mpd");
    /// assert!(routes.route("/v/seg-1.m4s").is_none());
    /// ```
    pub fn route<'p>(&self, path: &'p str) -> Option<Route<'p>> {
        [ManifestFormat::Hls, ManifestFormat::Dash]
            .into_iter()
            .find_map(|format| {
                let stem = path.strip_suffix(self.suffix(format))?;
                Some(Route { format, stem })
            })
    }

    /// Whether `stem` goes on past a routing suffix
    /// (`/v/index._m3u8/x._m3u8`): a grant ending in `*` for one manifest
    /// would otherwise open another.
    pub fn continues_past_a_route(&self, stem: &str) -> bool {
        [ManifestFormat::Hls, ManifestFormat::Dash]
            .into_iter()
            .any(|format| stem.contains(&format!("{}/", self.suffix(format))))
    }
}
