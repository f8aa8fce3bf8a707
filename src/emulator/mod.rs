//! A local CloudFront in front of the function, for development and for
//! end-to-end tests with real players.
//!
//! Every request must carry a valid signed URL or signed cookies, checked
//! with the same verification as `hls-sign verify` (rejections are 403 with
//! CloudFront's XML body and code). `*._m3u8` requests then go to the real
//! handler through the Lambda@Edge viewer-request adapter — the same path a
//! Lambda invocation takes, with its config, key source and origin fetch.
//! Everything else is served from the origin (a folder, with content types
//! and byte ranges, or an HTTP origin).
//!
//! The emulator stands in for an HTTPS-only distribution: it listens on
//! plain HTTP on loopback but checks and issues signatures for the
//! `https://` form of each URL, as CloudFront would see it.

mod static_origin;

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::edge::event::{
    Cf, CfConfig, CfHeader, CfHeaders, CfRecord, CfRequest, CfResult, CloudFrontEvent,
};
use crate::edge::lambda::handle_cloudfront;
use crate::edge::Handler;
use crate::policy::Policy;
use crate::signed_url::UrlParts;
use crate::verify::{parse_cookie_header, percent_decode, UnverifiedGrant, VerifiedSignatures};
pub use static_origin::{FolderOrigin, StaticOrigin};

/// The development page (plays the sample with hls.js).
const PAGE: &str = include_str!("page.html");

/// The emulator's parts, shared by all connections.
pub struct Emulator {
    pub handler: Handler,
    pub origin: StaticOrigin,
    /// `host:port` the emulator is reached at; the "distribution" host.
    pub host: String,
    /// hls.js for the development page.
    pub hls_js: Option<PathBuf>,
    /// Lifetime of URLs issued by the development endpoint.
    pub dev_ttl: u64,
    /// Signatures already verified (segments of one playlist share one).
    pub verified: VerifiedSignatures,
}

type HttpResponse = Response<Full<Bytes>>;

/// One access-log line per request; the reason says why a request failed.
fn access_log(method: &str, path: &str, status: u16, reason: &str) {
    let path: String = path.chars().take(200).collect();
    if reason.is_empty() {
        println!("{method} {path} {status}");
    } else {
        println!("{method} {path} {status} {reason}");
    }
}

/// Serves until the listener fails; each connection runs on its own task.
pub async fn serve(listener: TcpListener, emulator: Arc<Emulator>) -> std::io::Result<()> {
    loop {
        let (stream, peer) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        let emulator = emulator.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let emulator = emulator.clone();
                async move { Ok::<_, Infallible>(emulator.route(request, peer).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn response(status: u16, content_type: &str, body: impl Into<Bytes>) -> HttpResponse {
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .header("cache-control", "no-store")
        .body(Full::new(body.into()))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}

impl Emulator {
    async fn route(&self, request: Request<Incoming>, peer: SocketAddr) -> HttpResponse {
        let method = request.method().as_str().to_owned();
        let path = request.uri().path().to_owned();
        let query = request.uri().query().unwrap_or("").to_owned();
        let (response, reason) = match path.as_str() {
            "/" | "/index.html" => (
                response(200, "text/html; charset=utf-8", PAGE),
                String::new(),
            ),
            "/favicon.ico" => (response(204, "text/plain", ""), String::new()),
            "/dev/hls.js" => self.hls_js(),
            "/dev/sign" => self.dev_sign(&query).await,
            _ => self.distribution(request, peer).await,
        };
        access_log(&method, &path, response.status().as_u16(), &reason);
        response
    }

    /// hls.js, installed by the Makefile (not committed).
    fn hls_js(&self) -> (HttpResponse, String) {
        let file = self.hls_js.as_ref().and_then(|p| std::fs::read(p).ok());
        match file {
            Some(bytes) => (
                response(200, "text/javascript; charset=utf-8", bytes),
                String::new(),
            ),
            None => (
                response(
                    404,
                    "text/plain",
                    "hls.js is not installed: run `make run` (npm)\n",
                ),
                "hls.js not installed".to_owned(),
            ),
        }
    }

    /// What the application's API does in production: a signed URL for a
    /// master playlist path (canned policy, this emulator's key).
    async fn dev_sign(&self, query: &str) -> (HttpResponse, String) {
        let path = UrlParts::query_only(query)
            .query_pairs()
            .find(|(name, _)| *name == "path")
            .map(|(_, value)| percent_decode(value))
            .unwrap_or_else(|| "/sample/index._m3u8".to_owned());
        if crate::paths::check_path(&path).is_err() {
            return (
                response(400, "text/plain", "bad path\n"),
                "bad path".to_owned(),
            );
        }
        let now = now();
        let key = match self.handler.keys().get(now).await {
            Ok(key) => key,
            Err(e) => return (response(500, "text/plain", "no key\n"), e.to_string()),
        };
        let expires = now + self.dev_ttl;
        let https = format!("https://{}{path}", self.host);
        match key
            .signer
            .sign_url(&https, &Policy::canned(&https, expires))
        {
            Ok(signed) => {
                let url = format!("http://{}", &signed["https://".len()..]);
                let body = serde_json::json!({"url": url, "expires": expires}).to_string();
                (response(200, "application/json", body), String::new())
            }
            Err(e) => (response(400, "text/plain", "not signable\n"), e.to_string()),
        }
    }

    /// What CloudFront does for a request to the distribution.
    async fn distribution(
        &self,
        request: Request<Incoming>,
        peer: SocketAddr,
    ) -> (HttpResponse, String) {
        let now = now();
        let path_and_query = request
            .uri()
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_owned();
        let url = format!("https://{}{path_and_query}", self.host);
        let cookies: Vec<(String, String)> = request
            .headers()
            .get_all("cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(parse_cookie_header)
            .collect();
        let trusted = match self.handler.keys().get(now).await {
            Ok(key) => key,
            Err(e) => return (response(500, "text/plain", "no key\n"), e.to_string()),
        };
        let client_ip: IpAddr = peer.ip();
        let verdict = UnverifiedGrant::read(&url, &cookies).and_then(|claim| {
            claim.verify(&trusted.trusted, now, Some(client_ip), Some(&self.verified))
        });
        if let Err(rejection) = verdict {
            let reason = format!("{}: {}", rejection.code.as_str(), rejection.reason);
            return (response(403, "text/xml", rejection.xml_body()), reason);
        }
        let path = request.uri().path().to_owned();
        let query = request.uri().query().unwrap_or("").to_owned();
        let head = request.method() == http::Method::HEAD;
        let range = request
            .headers()
            .get("range")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        // The cache behaviors: `*._m3u8` to the function, the rest to the
        // origin.
        if !path.ends_with(self.handler.route_suffix()) {
            return self.origin.serve(&path, head, range.as_deref()).await;
        }
        let mut headers = CfHeaders::new();
        for (name, value) in request.headers() {
            if let Ok(value) = value.to_str() {
                headers
                    .entry(name.as_str().to_owned())
                    .or_default()
                    .push(CfHeader {
                        key: Some(name.as_str().to_owned()),
                        value: value.to_owned(),
                    });
            }
        }
        let event = CloudFrontEvent {
            records: vec![CfRecord {
                cf: Cf {
                    config: CfConfig {
                        distribution_domain_name: self.host.clone(),
                        distribution_id: "EMULATOR".to_owned(),
                        event_type: "viewer-request".to_owned(),
                        request_id: format!("emu-{now}-{}", peer.port()),
                    },
                    request: CfRequest {
                        client_ip: client_ip.to_string(),
                        method: request.method().as_str().to_owned(),
                        uri: path.clone(),
                        querystring: query,
                        headers,
                        body: None,
                        origin: None,
                    },
                },
            }],
        };
        // Drain the request body (players send none).
        let _ = request.into_body().collect().await;
        match handle_cloudfront(&self.handler, event, now).await {
            Ok((CfResult::Response(generated), log)) => {
                let status = generated.status.parse().unwrap_or(502);
                let mut builder = Response::builder().status(status);
                for values in generated.headers.values() {
                    for header in values {
                        builder =
                            builder.header(header.key.as_deref().unwrap_or("x"), &header.value);
                    }
                }
                let body = match (generated.body, generated.body_encoding.as_deref()) {
                    (Some(body), Some("base64")) => base64::engine::general_purpose::STANDARD
                        .decode(body)
                        .unwrap_or_default(),
                    (Some(body), _) => body.into_bytes(),
                    (None, _) => Vec::new(),
                };
                let reason = log.reason.unwrap_or_default();
                let response = builder
                    .body(Full::new(Bytes::from(body)))
                    .unwrap_or_else(|_| response(502, "text/plain", "bad generated response\n"));
                (response, reason)
            }
            Ok((CfResult::Request(_), _)) => self.origin.serve(&path, head, range.as_deref()).await,
            Err(e) => (
                response(502, "text/plain", "function error\n"),
                e.to_string(),
            ),
        }
    }
}
