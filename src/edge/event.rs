//! Lambda@Edge event and generated-response types (`aws_lambda_events` has
//! none). Field names follow CloudFront's JSON exactly.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Headers as CloudFront writes them: lowercase name → `[{key, value}]`.
pub type CfHeaders = BTreeMap<String, Vec<CfHeader>>;

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct CfHeader {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    pub value: String,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct CloudFrontEvent {
    pub records: Vec<CfRecord>,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct CfRecord {
    pub cf: Cf,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct Cf {
    pub config: CfConfig,
    pub request: CfRequest,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct CfConfig {
    pub distribution_domain_name: String,
    #[serde(default)]
    pub distribution_id: String,
    pub event_type: String,
    #[serde(default)]
    pub request_id: String,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct CfRequest {
    pub client_ip: String,
    pub method: String,
    pub uri: String,
    #[serde(default)]
    pub querystring: String,
    #[serde(default)]
    pub headers: CfHeaders,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<serde_json::Value>,
}

impl CfRequest {
    /// The first value of a header (names are lowercase in the event).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(name)
            .and_then(|values| values.first())
            .map(|h| h.value.as_str())
    }
}

/// A response generated at the edge.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct CfResponse {
    pub status: String,
    pub status_description: String,
    pub headers: CfHeaders,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_encoding: Option<String>,
}

/// What a viewer- or origin-request function returns: the request (to let
/// CloudFront go on) or a generated response.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum CfResult {
    Request(CfRequest),
    Response(CfResponse),
}
