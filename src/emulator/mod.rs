//! A local CloudFront in front of the function, emulating the deployed
//! stack, for development and for end-to-end tests with real players.
//!
//! By default a request takes the deployed chain of `template.yaml`:
//!
//! 1. **CloudFront's signature check**: every request must carry a valid
//!    signed URL or signed cookies for the key group (the same verification
//!    as `hls-sign verify`; a signed URL wins over cookies); rejections are
//!    403 with CloudFront's XML body and code.
//! 2. **Cache behaviours**: `*._m3u8` and `*._mpd` go to the function;
//!    everything else (`*.m3u8`, `*.mpd`, segments, keys) to the origin
//!    folder or HTTP origin.
//! 3. **The CloudFront Function** from the template runs for real, in node
//!    ([`cf_function`]): it copies the grant and host into headers (or
//!    answers itself).
//! 4. **CloudFront's origin request**: the signing parameters are removed
//!    from the query, and only what the template's origin request policy
//!    names (headers, cookies, query strings) goes on, plus
//!    `CloudFront-Viewer-Address`.
//! 5. **The function URL**: the real handler, in this process through the
//!    function-URL adapter or over HTTP to the real bootstrap under
//!    `cargo lambda watch` ([`function`]). The function fetches
//!    `index.m3u8` back through this emulator with a signature of its own,
//!    as deployed.
//!
//! `--trigger viewer-request` keeps the Lambda@Edge path: the handler gets a
//! viewer-request event with the request as the viewer sent it.
//!
//! The emulator stands in for an HTTPS-only distribution: it listens on
//! plain HTTP on loopback but checks and issues signatures for the
//! `https://` form of each URL, as CloudFront would see it.

pub mod cf_function;
pub mod function;
pub mod live_origin;
mod static_origin;
pub mod template;

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use http::{Request, Response};

use crate::delivery::Delivery;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{json, Map, Value};
use tokio::net::TcpListener;

use crate::edge::lambda::handle_event;
use crate::edge::Handler;
use crate::policy::Policy;
use crate::signed_url::{CookieAttributes, UrlParts, SIGNING_PARAMETERS};
use crate::verify::{parse_cookie_header, percent_decode, UnverifiedGrant, VerifiedSignatures};
use cf_function::{CloudFrontFunction, FunctionResult};
use function::{FunctionTarget, OriginRequest, OriginResponse};
pub use static_origin::{FolderOrigin, StaticOrigin};
use template::OriginRequestPolicy;

/// The development page (plays the sample with hls.js).
const PAGE: &str = include_str!("page.html");

/// The deployed chain in front of the function.
pub struct DeployedChain {
    pub cf_function: CloudFrontFunction,
    pub policy: OriginRequestPolicy,
    pub target: FunctionTarget,
}

/// How the distribution reaches the function.
pub enum EmulatedTrigger {
    /// The deployed chain: CloudFront Function, origin request policy,
    /// function URL.
    FunctionUrl(Box<DeployedChain>),
    /// Lambda@Edge viewer request (not deployed by the template; kept as the
    /// second path).
    ViewerRequest,
}

/// The emulator's parts, shared by all connections.
pub struct Emulator {
    /// The function's handler: its key cache verifies and signs for the
    /// development endpoints, and it answers function requests when the
    /// function runs in this process.
    pub handler: Handler,
    pub origin: StaticOrigin,
    /// `host:port` the emulator is reached at; the "distribution" host.
    pub host: String,
    /// The npm packages folder the development page's players come from
    /// (`tests/e2e/node_modules`: hls.js, dash.js, Shaka).
    pub players: Option<PathBuf>,
    /// Lifetime of grants issued by the development endpoints.
    pub dev_ttl: u64,
    /// Signatures already verified (segments of one playlist share one).
    pub verified: VerifiedSignatures,
    pub trigger: EmulatedTrigger,
    /// The template's optional live origin and its behaviours.
    pub live: Option<LiveRoute>,
}

/// The live behaviours of `template.yaml`: paths under the live prefix go
/// to the live origin; its playlists and MPDs pass on only the query
/// strings of `LivePlaylistCachePolicy` (the LL-HLS delivery directives),
/// everything else under it (segments, parts, keys) no query at all, as
/// with CachingOptimized.
pub struct LiveRoute {
    /// `/out/v1/`-style: starts and ends with `/`.
    pub prefix: String,
    pub origin: StaticOrigin,
    pub query_strings: Vec<String>,
}

impl LiveRoute {
    pub fn claims(&self, path: &str) -> bool {
        path.starts_with(&self.prefix)
    }

    /// The part of the viewer's `query` the behaviour for `path` forwards,
    /// in the viewer's order.
    pub fn forwarded_query(&self, path: &str, query: &str) -> String {
        let playlist = [".m3u8", ".mpd"].iter().any(|ext| path.ends_with(ext));
        if !playlist {
            return String::new();
        }
        query
            .split('&')
            .filter(|pair| {
                let name = pair.split('=').next().unwrap_or("");
                self.query_strings.iter().any(|kept| kept == name)
            })
            .collect::<Vec<_>>()
            .join("&")
    }
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

fn query_value(query: &str, name: &str) -> Option<String> {
    UrlParts::query_only(query)
        .query_pairs()
        .find(|(n, _)| *n == name)
        .map(|(_, value)| percent_decode(value))
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
            "/dev/player/hls.js" | "/dev/player/dash.js" | "/dev/player/shaka.js" => {
                self.player(&path["/dev/player/".len()..])
            }
            // The development signer answers this machine only: it signs
            // for anyone who asks.
            "/dev/sign" | "/dev/cookies" if !peer.ip().is_loopback() => (
                response(
                    403,
                    "text/plain",
                    "development endpoints answer loopback only\n",
                ),
                "not loopback".to_owned(),
            ),
            "/dev/sign" => self.dev_sign(&query).await,
            "/dev/cookies" => self.dev_cookies(&query).await,
            _ => self.distribution(request, peer).await,
        };
        access_log(&method, &path, response.status().as_u16(), &reason);
        response
    }

    /// A player library for the development page, from the npm packages
    /// the Makefile installs (not committed).
    fn player(&self, name: &str) -> (HttpResponse, String) {
        let file = match name {
            "hls.js" => "hls.js/dist/hls.min.js",
            "dash.js" => "dashjs/dist/modern/umd/dash.all.min.js",
            _ => "shaka-player/dist/shaka-player.compiled.js",
        };
        let bytes = self
            .players
            .as_ref()
            .and_then(|dir| std::fs::read(dir.join(file)).ok());
        match bytes {
            Some(bytes) => (
                response(200, "text/javascript; charset=utf-8", bytes),
                String::new(),
            ),
            None => (
                response(
                    404,
                    "text/plain",
                    format!("{name} is not installed: run `make run` (npm)\n"),
                ),
                format!("{name} not installed"),
            ),
        }
    }

    /// The `path` a development endpoint was asked for (checked like any
    /// request path) and the key to sign with.
    async fn dev_request(
        &self,
        query: &str,
        now: u64,
    ) -> Result<(String, Arc<crate::secrets::KeyMaterial>), (HttpResponse, String)> {
        let path = query_value(query, "path").unwrap_or_else(|| "/sample/index._m3u8".to_owned());
        // A `?` or `#` in the path would become a wildcard (or cut the URL)
        // in the Resource signed for it.
        if crate::paths::check_path(&path).is_err() || path.contains(['?', '#']) {
            return Err((
                response(400, "text/plain", "bad path\n"),
                "bad path".to_owned(),
            ));
        }
        match self.handler.keys().get(now).await {
            Ok(key) => Ok((path, key)),
            Err(e) => Err((response(500, "text/plain", "no key\n"), e.to_string())),
        }
    }

    /// What the application's API does in production: a signed URL for a
    /// master playlist path (canned policy, this emulator's key). With
    /// `delivery=…` the application chooses the delivery for this viewer:
    /// the URL carries `hls-delivery` and a policy over the stream's folder,
    /// which the carrying deliveries need.
    async fn dev_sign(&self, query: &str) -> (HttpResponse, String) {
        let now = now();
        let (path, key) = match self.dev_request(query, now).await {
            Ok(found) => found,
            Err(refused) => return refused,
        };
        let expires = now + dev_lifetime(query, self.dev_ttl);
        let delivery = match query_value(query, "delivery") {
            None => None,
            Some(name) => match name.parse::<Delivery>() {
                Ok(chosen) => Some((chosen, name)),
                Err(e) => return (response(400, "text/plain", "bad delivery\n"), e),
            },
        };
        let https = match &delivery {
            Some((_, name)) => format!(
                "https://{}{path}?{}={name}",
                self.host,
                crate::delivery::PARAMETER
            ),
            None => format!("https://{}{path}", self.host),
        };
        // Only the carrying deliveries need the folder; `rewrite` keeps the
        // canned grant on exactly the URL.
        let policy = match &delivery {
            Some((Delivery::Cookies | Delivery::Query, _)) => {
                Policy::custom(&format!("{}*", crate::delivery::tree(&https)), expires)
            }
            _ => Policy::canned(&https, expires),
        };
        match key.signer.sign_url(&https, &policy) {
            Ok(signed) => {
                let url = format!("http://{}", &signed["https://".len()..]);
                let body = json!({"url": url, "expires": expires}).to_string();
                (response(200, "application/json", body), String::new())
            }
            Err(e) => (response(400, "text/plain", "not signable\n"), e.to_string()),
        }
    }

    /// Signed cookies for a directory (custom policy `https://host/dir/*`),
    /// as an application would set them, and the master playlist's plain URL.
    async fn dev_cookies(&self, query: &str) -> (HttpResponse, String) {
        let now = now();
        let (path, key) = match self.dev_request(query, now).await {
            Ok(found) => found,
            Err(refused) => return refused,
        };
        let directory = &path[..path.rfind('/').map_or(1, |i| i + 1)];
        let expires = now + dev_lifetime(query, self.dev_ttl);
        let policy = Policy::custom(&format!("https://{}{directory}*", self.host), expires);
        let cookies = match key.signer.sign_cookies(&policy) {
            Ok(cookies) => cookies,
            Err(e) => return (response(500, "text/plain", "not signable\n"), e.to_string()),
        };
        // Plain HTTP on loopback: no `Secure` (a deployment sets it).
        let attributes = CookieAttributes {
            path: directory.to_owned(),
            secure: false,
            same_site: Some("Strict".to_owned()),
            ..CookieAttributes::default()
        };
        let body = json!({"url": format!("http://{}{path}", self.host), "expires": expires});
        let mut builder = Response::builder()
            .status(200)
            .header("content-type", "application/json")
            .header("cache-control", "no-store");
        for cookie in cookies.set_cookie_headers(&attributes) {
            builder = builder.header("set-cookie", cookie);
        }
        (
            builder
                .body(Full::new(Bytes::from(body.to_string())))
                .unwrap_or_default(),
            String::new(),
        )
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
        let cookie_headers: Vec<String> = request
            .headers()
            .get_all("cookie")
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect();
        let cookies: Vec<(String, String)> = cookie_headers
            .iter()
            .flat_map(|h| parse_cookie_header(h))
            .collect();
        let keys = match self.handler.keys().get(now).await {
            Ok(key) => key,
            Err(e) => return (response(500, "text/plain", "no key\n"), e.to_string()),
        };
        let client_ip: IpAddr = peer.ip();
        let verdict = UnverifiedGrant::read(&url, &cookies).and_then(|claim| {
            claim.verify(&keys.trusted, now, Some(client_ip), Some(&self.verified))
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
        // The cache behaviors: `*._m3u8` and `*._mpd` to the function, the
        // rest to the origin.
        if self.handler.routes().route(&path).is_none() {
            if let Some(live) = self.live.as_ref().filter(|live| live.claims(&path)) {
                let forwarded = live.forwarded_query(&path, &query);
                return live
                    .origin
                    .serve(&path, Some(&forwarded), head, range.as_deref())
                    .await;
            }
            return self.origin.serve(&path, None, head, range.as_deref()).await;
        }
        let viewer = OriginRequest {
            method: request.method().as_str().to_owned(),
            path,
            query,
            headers: request
                .headers()
                .iter()
                .filter_map(|(n, v)| Some((n.as_str().to_owned(), v.to_str().ok()?.to_owned())))
                .collect(),
            request_id: format!("emu-{now}-{}", peer.port()),
        };
        // Drain the request body (players send none).
        let _ = request.into_body().collect().await;
        let answer = match &self.trigger {
            EmulatedTrigger::ViewerRequest => self.viewer_request(&viewer, client_ip, now).await,
            EmulatedTrigger::FunctionUrl(chain) => {
                self.function_url(chain, viewer, &cookies, peer, now).await
            }
        };
        match answer {
            Ok(answer) => {
                let mut builder = Response::builder().status(answer.status);
                for (name, value) in &answer.headers {
                    builder = builder.header(name, value);
                }
                let response = builder
                    .body(Full::new(Bytes::from(answer.body)))
                    .unwrap_or_else(|_| response(502, "text/plain", "bad function response\n"));
                (response, String::new())
            }
            Err(reason) => (response(502, "text/plain", "function error\n"), reason),
        }
    }

    /// The Lambda@Edge viewer-request path: the request as the viewer sent
    /// it, in a viewer-request event.
    async fn viewer_request(
        &self,
        viewer: &OriginRequest,
        client_ip: IpAddr,
        now: u64,
    ) -> Result<OriginResponse, String> {
        let event = function::viewer_request_event(&self.host, &client_ip.to_string(), viewer);
        let (result, _log) = handle_event(&self.handler, event, now)
            .await
            .map_err(|e| e.to_string())?;
        function::from_cloudfront_result(&result)
            .ok_or_else(|| "the function passed a playlist route through".to_owned())
    }

    /// The deployed path: CloudFront Function, origin request policy,
    /// function URL.
    async fn function_url(
        &self,
        chain: &DeployedChain,
        viewer: OriginRequest,
        cookies: &[(String, String)],
        peer: SocketAddr,
        now: u64,
    ) -> Result<OriginResponse, String> {
        let event = cloudfront_function_event(&self.host, &viewer, cookies, peer.ip());
        let request = match chain
            .cf_function
            .run(&event)
            .await
            .map_err(|e| e.to_string())?
        {
            FunctionResult::Response(generated) => return Ok(generated_response(&generated)),
            FunctionResult::Request(request) => request,
        };
        let origin_request = origin_request(&chain.policy, &request, &viewer.request_id, peer);
        chain
            .target
            .invoke(&self.handler, &origin_request, now)
            .await
    }
}

/// The lifetime of a development grant: `ttl=N` seconds when asked (a
/// viewer cut off mid-stream), never more than `--dev-ttl`.
fn dev_lifetime(query: &str, dev_ttl: u64) -> u64 {
    query_value(query, "ttl")
        .and_then(|ttl| ttl.parse::<u64>().ok())
        .map_or(dev_ttl, |ttl| ttl.clamp(1, dev_ttl))
}

/// The CloudFront Functions (1.0) viewer-request event for a request.
pub fn cloudfront_function_event(
    host: &str,
    viewer: &OriginRequest,
    cookies: &[(String, String)],
    client_ip: IpAddr,
) -> Value {
    fn add(map: &mut Map<String, Value>, name: &str, value: &str) {
        match map.get_mut(name) {
            Some(entry) => {
                let first = entry["value"].clone();
                let values = entry.as_object_mut().map(|o| {
                    o.entry("multiValue")
                        .or_insert_with(|| json!([{"value": first}]))
                });
                if let Some(Value::Array(values)) = values {
                    values.push(json!({"value": value}));
                }
            }
            None => {
                map.insert(name.to_owned(), json!({"value": value}));
            }
        }
    }
    let mut querystring = Map::new();
    for pair in viewer.query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        add(&mut querystring, name, value);
    }
    let mut headers = Map::new();
    for (name, value) in &viewer.headers {
        if name != "cookie" {
            add(&mut headers, name, value);
        }
    }
    let mut cookie_map = Map::new();
    for (name, value) in cookies {
        add(&mut cookie_map, name, value);
    }
    json!({
        "version": "1.0",
        "context": {
            "distributionDomainName": host,
            "distributionId": "EMULATOR",
            "eventType": "viewer-request",
            "requestId": viewer.request_id
        },
        "viewer": {"ip": client_ip.to_string()},
        "request": {
            "method": viewer.method,
            "uri": viewer.path,
            "querystring": querystring,
            "headers": headers,
            "cookies": cookie_map
        }
    })
}

/// What CloudFront forwards to the function's origin after the CloudFront
/// Function: the signing parameters removed from the query, and only what
/// the origin request policy names.
pub fn origin_request(
    policy: &OriginRequestPolicy,
    request: &Value,
    request_id: &str,
    peer: SocketAddr,
) -> OriginRequest {
    let entries = |object: &Value| -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (name, entry) in object.as_object().into_iter().flatten() {
            match entry["multiValue"].as_array() {
                Some(values) => {
                    for v in values {
                        out.push((name.clone(), v["value"].as_str().unwrap_or("").to_owned()));
                    }
                }
                None => out.push((
                    name.clone(),
                    entry["value"].as_str().unwrap_or("").to_owned(),
                )),
            }
        }
        out
    };
    let query = match policy.query_string_behavior.as_str() {
        "none" => String::new(),
        _ => entries(&request["querystring"])
            .into_iter()
            .filter(|(name, _)| !SIGNING_PARAMETERS.contains(&name.as_str()))
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("&"),
    };
    let mut headers: Vec<(String, String)> = entries(&request["headers"])
        .into_iter()
        .map(|(n, v)| (n.to_ascii_lowercase(), v))
        .filter(|(name, _)| policy.forwards_header(name))
        .collect();
    if policy.forwards_header("cloudfront-viewer-address") {
        let address = match peer {
            SocketAddr::V4(v4) => format!("{}:{}", v4.ip(), v4.port()),
            SocketAddr::V6(v6) => format!("[{}]:{}", v6.ip(), v6.port()),
        };
        headers.retain(|(n, _)| n != "cloudfront-viewer-address");
        headers.push(("cloudfront-viewer-address".into(), address));
    }
    OriginRequest {
        method: request["method"].as_str().unwrap_or("GET").to_owned(),
        path: request["uri"].as_str().unwrap_or("/").to_owned(),
        query,
        headers,
        request_id: request_id.to_owned(),
    }
}

/// A response the CloudFront Function generated itself.
fn generated_response(generated: &Value) -> OriginResponse {
    let mut headers = Vec::new();
    for (name, entry) in generated["headers"].as_object().into_iter().flatten() {
        if let Some(value) = entry["value"].as_str() {
            headers.push((name.clone(), value.to_owned()));
        }
    }
    OriginResponse {
        status: generated["statusCode"].as_u64().unwrap_or(500) as u16,
        headers,
        body: generated["body"]
            .as_str()
            .or_else(|| generated["body"]["data"].as_str())
            .unwrap_or("")
            .as_bytes()
            .to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> OriginRequestPolicy {
        template::Deployment::from_template(template::DEPLOYED)
            .unwrap()
            .origin_request_policy
    }

    #[test]
    fn origin_request_follows_the_policy() {
        let request = json!({
            "method": "GET",
            "uri": "/v/index._m3u8",
            "querystring": {
                "Expires": {"value": "1"},
                "_HLS_msn": {"value": "3", "multiValue": [{"value": "3"}, {"value": "4"}]},
                "Signature": {"value": "x"}
            },
            "headers": {
                "host": {"value": "d.example"},
                "x-hls-viewer-grant": {"value": "Expires=1&Signature=x"},
                "user-agent": {"value": "test"},
                "cloudfront-viewer-address": {"value": "6.6.6.6:1"}
            },
            "cookies": {"CloudFront-Signature": {"value": "y"}}
        });
        let peer: SocketAddr = "127.0.0.1:5555".parse().unwrap();
        let out = origin_request(&policy(), &request, "r", peer);
        assert_eq!(out.query, "_HLS_msn=3&_HLS_msn=4");
        assert_eq!(
            out.headers,
            vec![
                (
                    "x-hls-viewer-grant".to_owned(),
                    "Expires=1&Signature=x".to_owned()
                ),
                (
                    "cloudfront-viewer-address".to_owned(),
                    "127.0.0.1:5555".to_owned()
                ),
            ]
        );
    }

    #[test]
    fn the_viewers_query_keeps_its_order_through_the_function() {
        // A canned grant signs the URL with its query as written: reordered,
        // it would no longer verify in the function.
        let viewer = OriginRequest {
            method: "GET".into(),
            path: "/v/index._m3u8".into(),
            query: "z=1&hls-delivery=cookies&a=2&Signature=x".into(),
            headers: vec![("host".into(), "h".into())],
            request_id: "r".into(),
        };
        let event = cloudfront_function_event("h", &viewer, &[], "127.0.0.1".parse().unwrap());
        let peer: SocketAddr = "127.0.0.1:5555".parse().unwrap();
        let out = origin_request(&policy(), &event["request"], "r", peer);
        assert_eq!(out.query, "z=1&hls-delivery=cookies&a=2");
    }

    #[test]
    fn function_events_carry_cookies_apart_from_headers() {
        let viewer = OriginRequest {
            method: "GET".into(),
            path: "/v/index._m3u8".into(),
            query: "a=1&a=2&Signature=x".into(),
            headers: vec![
                ("host".into(), "h".into()),
                ("cookie".into(), "CloudFront-Policy=p".into()),
            ],
            request_id: "r".into(),
        };
        let cookies = vec![("CloudFront-Policy".to_owned(), "p".to_owned())];
        let event = cloudfront_function_event("h", &viewer, &cookies, "127.0.0.1".parse().unwrap());
        let request = &event["request"];
        assert_eq!(request["querystring"]["a"]["multiValue"][1]["value"], "2");
        assert_eq!(request["cookies"]["CloudFront-Policy"]["value"], "p");
        assert!(request["headers"].get("cookie").is_none());
    }
}
