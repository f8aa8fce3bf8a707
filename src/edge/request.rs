//! The request and response shapes the handler works on, whatever the entry
//! point (Lambda@Edge event, function-URL event, `hls-sign invoke`, the
//! emulator).

use std::net::IpAddr;

/// Which entry point a request came through; it sets where the viewer's
/// grant is read from and the response limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    ViewerRequest,
    OriginRequest,
    FunctionUrl,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::ViewerRequest => "viewer-request",
            Trigger::OriginRequest => "origin-request",
            Trigger::FunctionUrl => "function-url",
        }
    }

    /// The largest generated response (headers + body) CloudFront accepts
    /// from this trigger; a larger one becomes CloudFront's own 502.
    pub fn response_limit(self) -> usize {
        match self {
            Trigger::ViewerRequest => 40 * 1024,
            Trigger::OriginRequest => 1024 * 1024,
            // Lambda's synchronous response payload limit.
            Trigger::FunctionUrl => 6 * 1024 * 1024,
        }
    }
}

/// A request in the shape the handler needs.
#[derive(Clone, Debug)]
pub struct PlaylistRequest {
    pub trigger: Trigger,
    pub request_id: String,
    pub method: http::Method,
    /// The path as received (percent-encoded), e.g. `/videos/index._m3u8`.
    pub path: String,
    /// The query without `?` (may be empty).
    pub query: String,
    /// The distribution's host name, when the entry point knows it.
    pub host: Option<String>,
    pub client_ip: Option<IpAddr>,
    pub headers: http::HeaderMap,
}

impl PlaylistRequest {
    /// The first value of a header, if it is text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Every value of a header that is text, joined by `sep`.
    pub fn joined_header(&self, name: &str, sep: &str) -> Option<String> {
        let values: Vec<&str> = self
            .headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        (!values.is_empty()).then(|| values.join(sep))
    }
}

/// A generated response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlaylistResponse {
    pub status: http::StatusCode,
    pub headers: http::HeaderMap,
    pub body: Body,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Body {
    Empty,
    Text(String),
    /// gzip bytes (sent base64-encoded where the transport needs text).
    Gzip(Vec<u8>),
}

impl Body {
    pub fn len(&self) -> usize {
        match self {
            Body::Empty => 0,
            Body::Text(text) => text.len(),
            Body::Gzip(bytes) => bytes.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What to do with a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Not ours (not the routing suffix): let CloudFront carry on.
    PassThrough,
    Respond(PlaylistResponse),
}

/// The response size as CloudFront counts it for a generated response:
/// header names and values plus the body as sent (base64 at the edge).
pub fn response_size(response: &PlaylistResponse, trigger: Trigger) -> usize {
    let headers: usize = response
        .headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    let body = match (&response.body, trigger) {
        (Body::Gzip(bytes), Trigger::ViewerRequest | Trigger::OriginRequest) => {
            bytes.len().div_ceil(3) * 4
        }
        (body, _) => body.len(),
    };
    headers + body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edge_size_counts_base64() {
        let mut headers = http::HeaderMap::new();
        headers.insert("a", http::HeaderValue::from_static("bc"));
        let response = PlaylistResponse {
            status: http::StatusCode::OK,
            headers,
            body: Body::Gzip(vec![0; 30]),
        };
        assert_eq!(response_size(&response, Trigger::ViewerRequest), 3 + 40);
        assert_eq!(response_size(&response, Trigger::FunctionUrl), 3 + 30);
    }
}
