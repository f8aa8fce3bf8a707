//! CloudFront access policies: building them byte for byte, parsing them back,
//! and deciding whether one admits a request.
//!
//! A signature covers the policy's exact bytes, so serialisation is the part
//! that must never drift: no whitespace, keys in the order the official signers
//! write them, and `&` kept literal (the Go and Ruby SDKs once escaped it as
//! `\u0026` and CloudFront rejected every such signature). A canned policy is
//! not a different type: it is the policy CloudFront *rebuilds* from the request
//! URL and `Expires`, which is why [`Policy::canned`] takes the URL itself.
//!
//! Conditions are kept in insertion order. botocore (and the AWS CLI) write
//! `DateLessThan, IpAddress, DateGreaterThan`; the JavaScript SDK writes
//! `DateLessThan, DateGreaterThan, IpAddress`. Both are valid, and a policy
//! parsed from a viewer's URL must re-serialise to the bytes that were signed,
//! so the order is data, not a rule.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::str::FromStr;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};

/// One condition of a policy statement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Condition {
    /// The request must arrive before this epoch second (required).
    DateLessThan(u64),
    /// The request must arrive at or after this epoch second.
    DateGreaterThan(u64),
    /// The viewer's IPv4 address must fall in this range.
    IpAddress(Ipv4Cidr),
}

/// A CloudFront policy with a single statement (CloudFront accepts no more).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Policy {
    resource: String,
    conditions: Vec<Condition>,
}

/// Why a policy could not be built or parsed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PolicyError {
    #[error("policy is not valid JSON of CloudFront's shape: {0}")]
    Json(String),
    #[error("policy must hold exactly one statement, found {0}")]
    StatementCount(usize),
    #[error("policy has no DateLessThan condition (CloudFront requires an expiry)")]
    MissingExpiry,
    #[error("policy repeats the {0} condition")]
    DuplicateCondition(&'static str),
    #[error("not-before time {not_before} is not earlier than expiry {expires}")]
    EmptyWindow { not_before: u64, expires: u64 },
    #[error(transparent)]
    Ip(#[from] IpError),
}

/// Why an IP range was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IpError {
    #[error("CloudFront policies accept IPv4 ranges only; `{0}` is IPv6")]
    Ipv6(String),
    #[error("`{0}` is not an IPv4 address or CIDR range like 192.0.2.0/24")]
    Invalid(String),
}

/// An IPv4 range in CIDR form. A bare address is a `/32`, which is how
/// CloudFront itself reads one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Ipv4Cidr {
    network: Ipv4Addr,
    prefix: u8,
}

impl Ipv4Cidr {
    /// The range holding exactly `address`.
    pub fn host(address: Ipv4Addr) -> Self {
        Self {
            network: address,
            prefix: 32,
        }
    }

    /// Whether every address of `other` is inside this range.
    pub fn contains_range(&self, other: &Ipv4Cidr) -> bool {
        other.prefix >= self.prefix && self.contains(IpAddr::V4(other.network))
    }

    /// Whether `ip` is inside the range. IPv6 viewers never are.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let IpAddr::V4(v4) = ip else { return false };
        let mask = u32::MAX
            .checked_shl(32 - u32::from(self.prefix))
            .unwrap_or(0);
        (u32::from(v4) & mask) == (u32::from(self.network) & mask)
    }
}

impl FromStr for Ipv4Cidr {
    type Err = IpError;

    fn from_str(text: &str) -> Result<Self, IpError> {
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        if address.contains(':') {
            return Err(IpError::Ipv6(text.to_owned()));
        }
        let invalid = || IpError::Invalid(text.to_owned());
        let network: Ipv4Addr = address.parse().map_err(|_| invalid())?;
        let prefix = match prefix {
            None => 32,
            Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => p
                .parse::<u8>()
                .ok()
                .filter(|&p| p <= 32)
                .ok_or_else(invalid)?,
            Some(_) => return Err(invalid()),
        };
        Ok(Self { network, prefix })
    }
}

impl fmt::Display for Ipv4Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

/// Why a valid policy does not admit a request; CloudFront answers all of
/// these with `AccessDenied`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denial {
    #[error("the URL does not match the policy's Resource `{resource}`")]
    ResourceMismatch { resource: String },
    #[error("expired at {expires} (now {now})")]
    Expired { expires: u64, now: u64 },
    #[error("not valid before {not_before} (now {now})")]
    NotYetValid { not_before: u64, now: u64 },
    #[error("viewer address {ip} is outside {range}")]
    IpMismatch { ip: String, range: Ipv4Cidr },
}

impl Policy {
    /// The policy CloudFront rebuilds for a canned signed URL: the resource is
    /// the URL itself (its own query included, the signing parameters not) and
    /// the only condition is the expiry.
    pub fn canned(url: &str, expires: u64) -> Self {
        Self {
            resource: url.to_owned(),
            conditions: vec![Condition::DateLessThan(expires)],
        }
    }

    /// A custom policy for `resource` (which may hold `*` and `?`) expiring at
    /// `expires`; add further conditions with [`Policy::with`].
    pub fn custom(resource: &str, expires: u64) -> Self {
        Self::canned(resource, expires)
    }

    /// Appends a condition, keeping the order the conditions are added in.
    /// A condition that is already present is replaced in place.
    pub fn with(mut self, condition: Condition) -> Self {
        match self
            .conditions
            .iter_mut()
            .find(|c| std::mem::discriminant(*c) == std::mem::discriminant(&condition))
        {
            Some(existing) => *existing = condition,
            None => self.conditions.push(condition),
        }
        self
    }

    /// The statement's resource pattern.
    pub fn resource(&self) -> &str {
        &self.resource
    }

    /// The conditions in serialisation order.
    pub fn conditions(&self) -> &[Condition] {
        &self.conditions
    }

    /// The `DateLessThan` epoch second.
    pub fn expires(&self) -> u64 {
        self.conditions
            .iter()
            .find_map(|c| match c {
                Condition::DateLessThan(t) => Some(*t),
                _ => None,
            })
            .unwrap_or(0)
    }

    /// The `DateGreaterThan` epoch second, if any.
    pub fn not_before(&self) -> Option<u64> {
        self.conditions.iter().find_map(|c| match c {
            Condition::DateGreaterThan(t) => Some(*t),
            _ => None,
        })
    }

    /// The `IpAddress` range, if any.
    pub fn ip_range(&self) -> Option<Ipv4Cidr> {
        self.conditions.iter().find_map(|c| match c {
            Condition::IpAddress(r) => Some(*r),
            _ => None,
        })
    }

    /// Whether a URL signed with this policy can use the short canned form
    /// (`Expires=` instead of `Policy=`): only the expiry condition, and a
    /// resource that is exactly the URL being signed.
    pub fn is_canned_for(&self, url: &str) -> bool {
        self.conditions.len() == 1 && self.resource == url
    }

    /// The exact JSON bytes that get signed.
    pub fn to_json(&self) -> String {
        // Serialising plain strings and integers into a String cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Parses policy JSON as CloudFront would accept it.
    pub fn from_json(json: &[u8]) -> Result<Self, PolicyError> {
        let document: PolicyDocument =
            serde_json::from_slice(json).map_err(|e| PolicyError::Json(e.to_string()))?;
        let count = document.statement.len();
        let statement = match <[Statement; 1]>::try_from(document.statement) {
            Ok([statement]) => statement,
            Err(_) => return Err(PolicyError::StatementCount(count)),
        };
        let policy = Self {
            resource: statement.resource.unwrap_or_else(|| "*".to_owned()),
            conditions: statement.condition.0,
        };
        policy.validate()?;
        Ok(policy)
    }

    /// Checks the invariants a policy must satisfy before it is signed.
    pub fn validate(&self) -> Result<(), PolicyError> {
        if !self
            .conditions
            .iter()
            .any(|c| matches!(c, Condition::DateLessThan(_)))
        {
            return Err(PolicyError::MissingExpiry);
        }
        if let Some(not_before) = self.not_before() {
            if not_before >= self.expires() {
                return Err(PolicyError::EmptyWindow {
                    not_before,
                    expires: self.expires(),
                });
            }
        }
        Ok(())
    }

    /// Decides whether this policy admits a request for `url` (without the
    /// signing parameters) at `now` from `client_ip`, as CloudFront does.
    pub fn admits(&self, url: &str, now: u64, client_ip: Option<IpAddr>) -> Result<(), Denial> {
        if !wildcard_match(&self.resource, url) {
            return Err(Denial::ResourceMismatch {
                resource: self.resource.clone(),
            });
        }
        for condition in &self.conditions {
            match *condition {
                Condition::DateLessThan(expires) if now >= expires => {
                    return Err(Denial::Expired { expires, now })
                }
                Condition::DateGreaterThan(not_before) if now < not_before => {
                    return Err(Denial::NotYetValid { not_before, now })
                }
                Condition::IpAddress(range) => match client_ip {
                    Some(ip) if range.contains(ip) => {}
                    other => {
                        return Err(Denial::IpMismatch {
                            ip: other.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string()),
                            range,
                        })
                    }
                },
                _ => {}
            }
        }
        Ok(())
    }
}

/// CloudFront's resource matching: `*` matches any run of characters
/// (including `/` and `?`, so a trailing `*` also covers the query string) and
/// `?` exactly one; everything else matches itself, case-sensitively.
///
/// Greedy matching with a single backtrack point: linear in practice and never
/// exponential, whatever an attacker puts in a policy.
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    glob(pattern, text, true)
}

/// [`wildcard_match`] with `?` read as itself: only `*` is a wildcard.
///
/// The function uses it to decide whether a viewer's grant opens a
/// *playlist* (see `edge::viewer_grant`): the `?` patterns it issues for
/// runs of segments must never be usable to fetch an unlisted playlist.
pub fn star_match(pattern: &str, text: &str) -> bool {
    glob(pattern, text, false)
}

fn glob(pattern: &str, text: &str, question_is_wildcard: bool) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    while ti < t.len() {
        let any_one = question_is_wildcard && pi < p.len() && p[pi] == b'?';
        if pi < p.len() && p[pi] == b'*' {
            pi += 1;
            backtrack = Some((pi, ti));
        } else if pi < p.len() && (p[pi] == t[ti] || (any_one && !is_continuation(t[ti]))) {
            pi += 1;
            ti += 1;
            // `?` stands for one character, so it swallows a whole UTF-8 sequence.
            if any_one {
                while ti < t.len() && is_continuation(t[ti]) {
                    ti += 1;
                }
            }
        } else if let Some((star_p, star_t)) = backtrack {
            pi = star_p;
            ti = star_t + 1;
            backtrack = Some((star_p, ti));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&b| b == b'*')
}

fn is_continuation(byte: u8) -> bool {
    byte & 0xC0 == 0x80
}

// --- JSON: written by hand around serde so the bytes are exactly CloudFront's ---

impl Serialize for Policy {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut document = serializer.serialize_map(Some(1))?;
        document.serialize_entry("Statement", &[StatementRef(self)])?;
        document.end()
    }
}

struct StatementRef<'a>(&'a Policy);

impl Serialize for StatementRef<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut statement = serializer.serialize_map(Some(2))?;
        statement.serialize_entry("Resource", &self.0.resource)?;
        statement.serialize_entry("Condition", &ConditionsRef(&self.0.conditions))?;
        statement.end()
    }
}

struct ConditionsRef<'a>(&'a [Condition]);

impl Serialize for ConditionsRef<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for condition in self.0 {
            match condition {
                Condition::DateLessThan(t) => {
                    map.serialize_entry("DateLessThan", &Epoch { epoch: *t })?
                }
                Condition::DateGreaterThan(t) => {
                    map.serialize_entry("DateGreaterThan", &Epoch { epoch: *t })?
                }
                Condition::IpAddress(range) => map.serialize_entry(
                    "IpAddress",
                    &SourceIp {
                        source_ip: range.to_string(),
                    },
                )?,
            }
        }
        map.end()
    }
}

#[derive(Serialize, Deserialize)]
struct Epoch {
    #[serde(rename = "AWS:EpochTime")]
    epoch: u64,
}

#[derive(Serialize, Deserialize)]
struct SourceIp {
    #[serde(rename = "AWS:SourceIp")]
    source_ip: String,
}

#[derive(Deserialize)]
struct PolicyDocument {
    #[serde(rename = "Statement")]
    statement: Vec<Statement>,
}

#[derive(Deserialize)]
struct Statement {
    #[serde(rename = "Resource")]
    resource: Option<String>,
    #[serde(rename = "Condition")]
    condition: ParsedConditions,
}

/// Conditions in document order (serde_json's own map would sort them).
struct ParsedConditions(Vec<Condition>);

impl<'de> Deserialize<'de> for ParsedConditions {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(ConditionsVisitor)
    }
}

struct ConditionsVisitor;

impl<'de> Visitor<'de> for ConditionsVisitor {
    type Value = ParsedConditions;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map of CloudFront conditions")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ParsedConditions, A::Error> {
        let mut conditions = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            let (name, condition) = match key.as_str() {
                "DateLessThan" => (
                    "DateLessThan",
                    Condition::DateLessThan(map.next_value::<Epoch>()?.epoch),
                ),
                "DateGreaterThan" => (
                    "DateGreaterThan",
                    Condition::DateGreaterThan(map.next_value::<Epoch>()?.epoch),
                ),
                "IpAddress" => {
                    let source = map.next_value::<SourceIp>()?.source_ip;
                    let range = source.parse().map_err(de::Error::custom)?;
                    ("IpAddress", Condition::IpAddress(range))
                }
                other => {
                    map.next_value::<IgnoredAny>()?;
                    return Err(de::Error::custom(format!("unknown condition `{other}`")));
                }
            };
            if conditions
                .iter()
                .any(|c| std::mem::discriminant(c) == std::mem::discriminant(&condition))
            {
                return Err(de::Error::custom(PolicyError::DuplicateCondition(name)));
            }
            conditions.push(condition);
        }
        Ok(ParsedConditions(conditions))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const HOST: &str = "https://d111111abcdef8.cloudfront.net";

    #[test]
    fn canned_policy_bytes() {
        let policy = Policy::canned(&format!("{HOST}/a.ts?x=1&y=2"), 1767225600);
        assert_eq!(
            policy.to_json(),
            format!(
                r#"{{"Statement":[{{"Resource":"{HOST}/a.ts?x=1&y=2","Condition":{{"DateLessThan":{{"AWS:EpochTime":1767225600}}}}}}]}}"#
            )
        );
    }

    #[test]
    fn conditions_keep_insertion_order() {
        let ip: Ipv4Cidr = "198.51.100.0/24".parse().unwrap();
        let botocore = Policy::custom("*", 20)
            .with(Condition::IpAddress(ip))
            .with(Condition::DateGreaterThan(10));
        assert!(botocore
            .to_json()
            .contains(r#""IpAddress":{"AWS:SourceIp":"198.51.100.0/24"},"DateGreaterThan""#));
        let parsed = Policy::from_json(botocore.to_json().as_bytes()).unwrap();
        assert_eq!(parsed, botocore);
        assert_eq!(parsed.to_json(), botocore.to_json());
    }

    type ErrorCheck = fn(&PolicyError) -> bool;

    #[test]
    fn parse_rejects_bad_shapes() {
        let bad: &[(&str, ErrorCheck)] = &[
            ("{", |e| matches!(e, PolicyError::Json(_))),
            (r#"{"Statement":[]}"#, |e| {
                matches!(e, PolicyError::StatementCount(0))
            }),
            (r#"{"Statement":[{"Resource":"*","Condition":{}}]}"#, |e| {
                matches!(e, PolicyError::MissingExpiry)
            }),
            (
                r#"{"Statement":[{"Resource":"*","Condition":{"DateLessThan":{"AWS:EpochTime":"x"}}}]}"#,
                |e| matches!(e, PolicyError::Json(_)),
            ),
            (
                r#"{"Statement":[{"Resource":"*","Condition":{"DateLessThan":{"AWS:EpochTime":5},"IpAddress":{"AWS:SourceIp":"2001:db8::/32"}}}]}"#,
                |e| matches!(e, PolicyError::Json(m) if m.contains("IPv6")),
            ),
            (
                r#"{"Statement":[{"Resource":"*","Condition":{"DateLessThan":{"AWS:EpochTime":5},"DateLessThan":{"AWS:EpochTime":6}}}]}"#,
                |e| matches!(e, PolicyError::Json(m) if m.contains("repeats")),
            ),
            (
                r#"{"Statement":[{"Resource":"*","Condition":{"DateLessThan":{"AWS:EpochTime":5},"DateGreaterThan":{"AWS:EpochTime":5}}}]}"#,
                |e| matches!(e, PolicyError::EmptyWindow { .. }),
            ),
        ];
        for (json, check) in bad {
            let err = Policy::from_json(json.as_bytes()).unwrap_err();
            assert!(check(&err), "{json}: {err:?}");
        }
    }

    #[test]
    fn ip_ranges() {
        let range: Ipv4Cidr = "192.0.2.10".parse().unwrap();
        assert_eq!(range.to_string(), "192.0.2.10/32");
        assert!(range.contains("192.0.2.10".parse().unwrap()));
        assert!(!range.contains("192.0.2.11".parse().unwrap()));
        let wide: Ipv4Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(wide.contains("203.0.113.9".parse().unwrap()));
        assert!(!wide.contains("::1".parse().unwrap()));
        assert!(matches!(
            "2001:db8::/32".parse::<Ipv4Cidr>(),
            Err(IpError::Ipv6(_))
        ));
        for bad in ["1.2.3.4/33", "1.2.3/8", "1.2.3.4/", "1.2.3.4/+8", "x"] {
            assert!(
                matches!(bad.parse::<Ipv4Cidr>(), Err(IpError::Invalid(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn admits_checks_every_condition() {
        let policy = Policy::custom(&format!("{HOST}/live/*"), 100)
            .with(Condition::DateGreaterThan(50))
            .with(Condition::IpAddress("10.0.0.0/8".parse().unwrap()));
        let url = format!("{HOST}/live/a.ts");
        let ip = Some("10.1.2.3".parse().unwrap());
        assert_eq!(policy.admits(&url, 60, ip), Ok(()));
        assert!(matches!(
            policy.admits(&url, 100, ip),
            Err(Denial::Expired { .. })
        ));
        assert!(matches!(
            policy.admits(&url, 49, ip),
            Err(Denial::NotYetValid { .. })
        ));
        assert!(matches!(
            policy.admits(&url, 60, Some("11.0.0.1".parse().unwrap())),
            Err(Denial::IpMismatch { .. })
        ));
        assert!(matches!(
            policy.admits(&format!("{HOST}/vod/a.ts"), 60, ip),
            Err(Denial::ResourceMismatch { .. })
        ));
    }

    #[test]
    fn star_match_reads_question_marks_literally() {
        assert!(star_match(
            "https://h/v/a._m3u8?v=2*",
            "https://h/v/a._m3u8?v=2&_HLS_msn=1"
        ));
        assert!(star_match("https://h/v/*", "https://h/v/x/y._m3u8"));
        assert!(!star_match(
            "https://h/v/???.ts",
            "https://h/v/abc._m3u8?.ts"
        ));
        assert!(!star_match("https://h/v/a?b", "https://h/v/aXb"));
        assert!(star_match("https://h/v/a?b", "https://h/v/a?b"));
    }

    #[test]
    fn wildcard_examples() {
        assert!(wildcard_match("*", ""));
        assert!(wildcard_match(
            &format!("{HOST}/v/*"),
            &format!("{HOST}/v/a/b.ts?_HLS_msn=3")
        ));
        assert!(wildcard_match("a?c", "abc"));
        assert!(wildcard_match("a?c", "aéc"));
        assert!(!wildcard_match("a?c", "ac"));
        assert!(!wildcard_match("a/b", "a/b?x=1"));
        assert!(!wildcard_match("A", "a"));
        assert!(wildcard_match("*.ts*", "x/y.ts?z"));
        assert!(!wildcard_match("*.ts", "x/y.ts?z"));
    }

    /// A deliberately naive recursive matcher: the oracle for the fast one.
    fn reference_match(p: &[char], t: &[char]) -> bool {
        match (p.first(), t.first()) {
            (None, None) => true,
            (Some('*'), _) => {
                reference_match(&p[1..], t) || (!t.is_empty() && reference_match(p, &t[1..]))
            }
            (Some('?'), Some(_)) => reference_match(&p[1..], &t[1..]),
            (Some(a), Some(b)) if a == b => reference_match(&p[1..], &t[1..]),
            _ => false,
        }
    }

    proptest! {
        #[test]
        fn wildcard_agrees_with_reference(
            pattern in "[ab*?/é]{0,10}",
            text in "[ab/?é]{0,12}",
        ) {
            let p: Vec<char> = pattern.chars().collect();
            let t: Vec<char> = text.chars().collect();
            prop_assert_eq!(wildcard_match(&pattern, &text), reference_match(&p, &t));
        }

        #[test]
        fn trailing_star_covers_any_suffix(prefix in "[a-z/.]{0,20}", suffix in "\\PC{0,20}") {
            let pattern = format!("{prefix}*");
            let text = format!("{prefix}{suffix}");
            prop_assert!(wildcard_match(&pattern, &text));
        }

        #[test]
        fn json_round_trips(
            resource in "[ -~]{0,40}",
            expires in 1000u64..u64::MAX / 2,
            gap in proptest::option::of(1u64..1000),
            ip in proptest::option::of((any::<[u8; 4]>(), 0u8..=32)),
        ) {
            let mut policy = Policy::custom(&resource, expires);
            if let Some((octets, prefix)) = ip {
                let range: Ipv4Cidr = format!("{}/{prefix}", Ipv4Addr::from(octets)).parse().unwrap();
                policy = policy.with(Condition::IpAddress(range));
            }
            if let Some(gap) = gap {
                policy = policy.with(Condition::DateGreaterThan(expires - gap));
            }
            let json = policy.to_json();
            prop_assert!(!json.contains("\\u0026"));
            let parsed = Policy::from_json(json.as_bytes()).unwrap();
            prop_assert_eq!(parsed.to_json(), json);
        }
    }
}
