//! Event adapters: a Lambda@Edge event or a function-URL event in, the
//! matching response out — both through [`Handler::handle`].

use std::net::IpAddr;

use aws_lambda_events::event::lambda_function_urls::{
    LambdaFunctionUrlRequest, LambdaFunctionUrlResponse,
};
use base64::Engine;

use super::event::{CfHeader, CfHeaders, CfResponse, CfResult, CloudFrontEvent};
use super::handler::Handler;
use super::log::LogRecord;
use super::request::{Body, Outcome, PlaylistRequest, PlaylistResponse, Trigger};

/// Why an event could not be handled at all (Lambda reports it as an
/// invocation error; CloudFront answers 502 / 503).
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    #[error("event is neither a CloudFront (Records[].cf) nor a function-URL event")]
    Unrecognised,
    #[error("malformed {kind} event: {reason}")]
    Malformed { kind: &'static str, reason: String },
    #[error("CloudFront event type `{0}` is not handled (viewer-request or origin-request)")]
    EventType(String),
}

/// Handles any supported event given as JSON; returns the response JSON and
/// the log record.
pub async fn handle_event(
    handler: &Handler,
    event: serde_json::Value,
    now: u64,
) -> Result<(serde_json::Value, LogRecord), EventError> {
    let malformed = |kind, e: serde_json::Error| EventError::Malformed {
        kind,
        reason: e.to_string(),
    };
    if event.get("Records").is_some() {
        let event: CloudFrontEvent =
            serde_json::from_value(event).map_err(|e| malformed("CloudFront", e))?;
        let (result, log) = handle_cloudfront(handler, event, now).await?;
        let json = serde_json::to_value(result).map_err(|e| malformed("CloudFront", e))?;
        return Ok((json, log));
    }
    if event.pointer("/requestContext/http").is_some() {
        let event: LambdaFunctionUrlRequest =
            serde_json::from_value(event).map_err(|e| malformed("function-URL", e))?;
        let (response, log) = handle_function_url(handler, event, now).await;
        let json = serde_json::to_value(response).map_err(|e| malformed("function-URL", e))?;
        return Ok((json, log));
    }
    Err(EventError::Unrecognised)
}

/// A Lambda@Edge viewer- or origin-request event.
pub async fn handle_cloudfront(
    handler: &Handler,
    event: CloudFrontEvent,
    now: u64,
) -> Result<(CfResult, LogRecord), EventError> {
    let record = event
        .records
        .into_iter()
        .next()
        .ok_or_else(|| EventError::Malformed {
            kind: "CloudFront",
            reason: "no Records".to_owned(),
        })?;
    let config = record.cf.config;
    let trigger = match config.event_type.as_str() {
        "viewer-request" => Trigger::ViewerRequest,
        "origin-request" => Trigger::OriginRequest,
        other => return Err(EventError::EventType(other.to_owned())),
    };
    let cf_request = record.cf.request;
    let mut headers = http::HeaderMap::new();
    for (name, values) in &cf_request.headers {
        let Ok(name) = http::HeaderName::try_from(name.to_ascii_lowercase()) else {
            continue;
        };
        for header in values {
            if let Ok(value) = http::HeaderValue::try_from(header.value.as_str()) {
                headers.append(name.clone(), value);
            }
        }
    }
    let method = http::Method::from_bytes(cf_request.method.as_bytes()).map_err(|_| {
        EventError::Malformed {
            kind: "CloudFront",
            reason: "request method is not an HTTP token".to_owned(),
        }
    })?;
    let request = PlaylistRequest {
        trigger,
        request_id: config.request_id.clone(),
        method,
        path: cf_request.uri.clone(),
        query: cf_request.querystring.clone(),
        host: Some(config.distribution_domain_name.clone()),
        client_ip: cf_request.client_ip.parse().ok(),
        headers,
    };
    let (outcome, log) = handler.handle(&request, now).await;
    let result = match outcome {
        Outcome::PassThrough => CfResult::Request(cf_request),
        Outcome::Respond(response) => CfResult::Response(to_cloudfront(response)),
    };
    Ok((result, log))
}

fn to_cloudfront(response: PlaylistResponse) -> CfResponse {
    let mut headers = CfHeaders::new();
    for (name, value) in &response.headers {
        let Ok(value) = value.to_str() else { continue };
        headers
            .entry(name.as_str().to_owned())
            .or_default()
            .push(CfHeader {
                key: Some(display_case(name.as_str())),
                value: value.to_owned(),
            });
    }
    let (body, body_encoding) = match response.body {
        Body::Empty => (None, None),
        Body::Text(text) => (Some(text), Some("text".to_owned())),
        Body::Gzip(bytes) => (
            Some(base64::engine::general_purpose::STANDARD.encode(bytes)),
            Some("base64".to_owned()),
        ),
    };
    CfResponse {
        status: response.status.as_u16().to_string(),
        status_description: response
            .status
            .canonical_reason()
            .unwrap_or_default()
            .to_owned(),
        headers,
        body,
        body_encoding,
    }
}

/// A function-URL event (the regional deployment behind CloudFront).
pub async fn handle_function_url(
    handler: &Handler,
    event: LambdaFunctionUrlRequest,
    now: u64,
) -> (LambdaFunctionUrlResponse, LogRecord) {
    let mut headers = event.headers.clone();
    if let Some(cookies) = &event.cookies {
        if !cookies.is_empty() {
            headers.remove(http::header::COOKIE);
            if let Ok(value) = http::HeaderValue::try_from(cookies.join("; ")) {
                headers.insert(http::header::COOKIE, value);
            }
        }
    }
    // Behind CloudFront the function URL's own source IP is CloudFront's;
    // the viewer's comes only in CloudFront-Viewer-Address (`ip:port`),
    // which the origin request policy forwards. Without it the viewer's
    // address is unknown (and an IP-restricted grant does not verify).
    let client_ip = headers
        .get("cloudfront-viewer-address")
        .and_then(|v| v.to_str().ok())
        .and_then(viewer_address);
    let method = event
        .request_context
        .http
        .method
        .as_deref()
        .and_then(|m| http::Method::from_bytes(m.as_bytes()).ok())
        .unwrap_or(http::Method::GET);
    let request = PlaylistRequest {
        trigger: Trigger::FunctionUrl,
        request_id: event.request_context.request_id.clone().unwrap_or_default(),
        method,
        path: event
            .raw_path
            .clone()
            .or_else(|| event.request_context.http.path.clone())
            .unwrap_or_default(),
        query: event.raw_query_string.clone().unwrap_or_default(),
        // The function URL's own domain is not the distribution's: the host
        // comes from the configured header or config.
        host: None,
        client_ip,
        headers,
    };
    let (outcome, log) = handler.handle(&request, now).await;
    let response = match outcome {
        Outcome::Respond(response) => response,
        Outcome::PassThrough => unreachable_pass_through(),
    };
    let mut out = LambdaFunctionUrlResponse::default();
    out.status_code = i64::from(response.status.as_u16());
    let mut headers = response.headers;
    // A function URL sets cookies through `cookies`, one per entry.
    out.cookies = headers
        .get_all(http::header::SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok().map(str::to_owned))
        .collect();
    headers.remove(http::header::SET_COOKIE);
    out.headers = headers;
    match response.body {
        Body::Empty => {}
        Body::Text(text) => out.body = Some(text),
        Body::Gzip(bytes) => {
            out.body = Some(base64::engine::general_purpose::STANDARD.encode(bytes));
            out.is_base64_encoded = true;
        }
    }
    (out, log)
}

/// The handler never passes a function-URL request through (it answers 404
/// for other paths); an empty 404 keeps this total anyway.
fn unreachable_pass_through() -> PlaylistResponse {
    PlaylistResponse {
        status: http::StatusCode::NOT_FOUND,
        headers: http::HeaderMap::new(),
        body: Body::Empty,
    }
}

/// The IP of a `CloudFront-Viewer-Address` value (`192.0.2.1:443`,
/// `2001:db8::1:443`).
pub fn viewer_address(value: &str) -> Option<IpAddr> {
    let (ip, port) = value.trim().rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    ip.trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()
}

fn display_case(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut chars = part.chars();
            match chars.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn viewer_addresses() {
        assert_eq!(viewer_address("192.0.2.7:443"), "192.0.2.7".parse().ok());
        assert_eq!(
            viewer_address("2001:db8::1:46532"),
            "2001:db8::1".parse().ok()
        );
        assert_eq!(
            viewer_address("[2001:db8::1]:46532"),
            "2001:db8::1".parse().ok()
        );
        assert_eq!(viewer_address("garbage"), None);
    }

    #[test]
    fn header_display_case() {
        assert_eq!(display_case("content-type"), "Content-Type");
        assert_eq!(
            display_case("access-control-allow-origin"),
            "Access-Control-Allow-Origin"
        );
    }
}
