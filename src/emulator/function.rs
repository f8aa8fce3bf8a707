//! The function behind the emulated distribution, reached the way CloudFront
//! reaches it: a function-URL request (deployed path) or a Lambda@Edge
//! viewer-request event (second path). Either goes to the real handler —
//! in this process through the same event adapter the Lambda binary uses,
//! or over HTTP to the real bootstrap running under a local Lambda runtime
//! (`cargo lambda watch`, which serves function URLs).

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use serde_json::{json, Map, Value};

use crate::edge::lambda::handle_event;
use crate::edge::Handler;

/// A request as CloudFront sends it to the function's origin.
#[derive(Clone, Debug)]
pub struct OriginRequest {
    pub method: String,
    pub path: String,
    /// Without `?`.
    pub query: String,
    /// Lowercase names, in order.
    pub headers: Vec<(String, String)>,
    pub request_id: String,
}

/// The function's answer.
#[derive(Clone, Debug)]
pub struct OriginResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Where function-URL requests go.
pub enum FunctionTarget {
    /// The handler in this process, given the function-URL event a Lambda
    /// would receive.
    InProcess,
    /// A function URL served elsewhere, e.g.
    /// `http://127.0.0.1:9000/lambda-url/hls-edge-signer` under
    /// `cargo lambda watch`.
    Remote {
        base: String,
        client: reqwest::Client,
    },
}

impl FunctionTarget {
    /// Sends `request` to the function.
    pub async fn invoke(
        &self,
        handler: &Handler,
        request: &OriginRequest,
        now: u64,
    ) -> Result<OriginResponse, String> {
        match self {
            FunctionTarget::InProcess => {
                let event = function_url_event(request);
                let (response, _log) = handle_event(handler, event, now)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(from_function_url_response(&response))
            }
            FunctionTarget::Remote { base, client } => {
                let mut url = format!("{base}{}", request.path);
                if !request.query.is_empty() {
                    url.push('?');
                    url.push_str(&request.query);
                }
                let method = reqwest::Method::from_bytes(request.method.as_bytes())
                    .map_err(|e| e.to_string())?;
                let mut call = client.request(method, url);
                for (name, value) in &request.headers {
                    call = call.header(name, value);
                }
                let response = call.send().await.map_err(|e| e.to_string())?;
                let status = response.status().as_u16();
                let headers = response
                    .headers()
                    .iter()
                    .filter_map(|(n, v)| Some((n.as_str().to_owned(), v.to_str().ok()?.to_owned())))
                    .collect();
                let body = response.bytes().await.map_err(|e| e.to_string())?.to_vec();
                Ok(OriginResponse {
                    status,
                    headers,
                    body,
                })
            }
        }
    }
}

/// The function-URL (payload format 2.0) event for `request`, as Lambda
/// builds it for a request arriving from CloudFront.
pub fn function_url_event(request: &OriginRequest) -> Value {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let mut headers = Map::new();
    for (name, value) in &request.headers {
        let joined = match headers.get(name).and_then(Value::as_str) {
            Some(existing) => format!("{existing},{value}"),
            None => value.clone(),
        };
        headers.insert(name.clone(), Value::String(joined));
    }
    headers.insert("host".into(), "emulator.lambda-url.localhost".into());
    json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": request.path,
        "rawQueryString": request.query,
        "headers": headers,
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "emulator",
            "domainName": "emulator.lambda-url.localhost",
            "domainPrefix": "emulator",
            "http": {
                "method": request.method,
                "path": request.path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "Amazon CloudFront"
            },
            "requestId": request.request_id,
            "routeKey": "$default",
            "stage": "$default",
            "time": "",
            "timeEpoch": now
        },
        "isBase64Encoded": false
    })
}

/// A function-URL response (JSON) as the HTTP response Lambda makes of it.
pub fn from_function_url_response(response: &Value) -> OriginResponse {
    let status = response["statusCode"].as_u64().unwrap_or(502) as u16;
    let headers = response["headers"]
        .as_object()
        .map(|map| {
            map.iter()
                .filter_map(|(n, v)| Some((n.clone(), v.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default();
    // Lambda turns the response's `cookies` into `Set-Cookie` headers.
    let mut headers: Vec<(String, String)> = headers;
    for cookie in response["cookies"].as_array().into_iter().flatten() {
        if let Some(cookie) = cookie.as_str() {
            headers.push(("set-cookie".to_owned(), cookie.to_owned()));
        }
    }
    let text = response["body"].as_str().unwrap_or("");
    let body = if response["isBase64Encoded"] == Value::Bool(true) {
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .unwrap_or_default()
    } else {
        text.as_bytes().to_vec()
    };
    OriginResponse {
        status,
        headers,
        body,
    }
}

/// A Lambda@Edge viewer-request event for a request CloudFront verified.
pub fn viewer_request_event(host: &str, client_ip: &str, request: &OriginRequest) -> Value {
    let mut headers = Map::new();
    for (name, value) in &request.headers {
        let entry = headers
            .entry(name.clone())
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(values) = entry {
            values.push(json!({"key": name, "value": value}));
        }
    }
    json!({"Records": [{"cf": {
        "config": {
            "distributionDomainName": host,
            "distributionId": "EMULATOR",
            "eventType": "viewer-request",
            "requestId": request.request_id
        },
        "request": {
            "clientIp": client_ip,
            "method": request.method,
            "uri": request.path,
            "querystring": request.query,
            "headers": headers
        }
    }}]})
}

/// A Lambda@Edge result: the generated response, or `None` when the
/// function let the request go on.
pub fn from_cloudfront_result(result: &Value) -> Option<OriginResponse> {
    let status = result.get("status")?.as_str()?.parse().ok()?;
    let mut headers = Vec::new();
    if let Some(map) = result["headers"].as_object() {
        for values in map.values() {
            for header in values.as_array().into_iter().flatten() {
                if let (Some(key), Some(value)) = (header["key"].as_str(), header["value"].as_str())
                {
                    headers.push((key.to_ascii_lowercase(), value.to_owned()));
                }
            }
        }
    }
    let text = result["body"].as_str().unwrap_or("");
    let body = if result["bodyEncoding"] == "base64" {
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .unwrap_or_default()
    } else {
        text.as_bytes().to_vec()
    };
    Some(OriginResponse {
        status,
        headers,
        body,
    })
}
