//! What the emulator takes from `template.yaml`, so that what it runs is
//! what is deployed: the CloudFront Function's code and the function
//! behaviour's origin request policy (which headers, cookies and query
//! strings reach the function).
//!
//! The template is read with a small indentation-based reader that knows
//! just enough YAML for these two resources (a block scalar, a list of
//! scalars, plain `key: value` lines); anything it cannot find is an error
//! naming the resource and key, never a guess.

/// The deployed template, compiled in (used unless `--template` names another).
pub const DEPLOYED: &str = include_str!("../../template.yaml");

/// Why the template could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("template.yaml has no resource `{0}`")]
    NoResource(&'static str),
    #[error("template.yaml: resource `{resource}` has no `{key}`")]
    NoKey {
        resource: &'static str,
        key: &'static str,
    },
    #[error("template.yaml: `{key}: {value}` is not emulated (the emulator runs {supported})")]
    NotEmulated {
        key: &'static str,
        value: String,
        supported: &'static str,
    },
}

/// The origin request policy of the function behaviour.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OriginRequestPolicy {
    /// `none`, `whitelist`, `allViewer` or `allViewerAndWhitelistCloudFront`:
    /// which viewer headers go on.
    pub header_behavior: String,
    /// Forwarded header names, lowercase.
    pub headers: Vec<String>,
    /// `none`: cookies reach the function only in the grant header the
    /// CloudFront Function writes.
    pub cookie_behavior: String,
    /// `none` or `all`.
    pub query_string_behavior: String,
}

impl OriginRequestPolicy {
    /// Whether a header of this (lowercase) name reaches the origin.
    pub fn forwards_header(&self, name: &str) -> bool {
        match self.header_behavior.as_str() {
            "whitelist" => self.headers.iter().any(|h| h == name),
            // Every viewer header, plus the listed CloudFront ones.
            "allViewer" | "allViewerAndWhitelistCloudFront" => {
                !name.starts_with("cloudfront-") || self.headers.iter().any(|h| h == name)
            }
            _ => false,
        }
    }
}

/// The pieces of the deployment the emulator runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deployment {
    /// The `ViewerGrantFunction`'s JavaScript.
    pub function_code: String,
    pub origin_request_policy: OriginRequestPolicy,
    /// The query strings the live playlist behaviours
    /// (`LivePlaylistCachePolicy`) put in the cache key and so forward to
    /// the live origin: the LL-HLS delivery directives. Everything else in
    /// the query stays at the edge.
    pub live_query_strings: Vec<String>,
}

impl Deployment {
    /// Reads the deployment from template text.
    pub fn from_template(text: &str) -> Result<Self, TemplateError> {
        const FUNCTION: &str = "ViewerGrantFunction";
        const POLICY: &str = "SignerOriginRequestPolicy";
        let function = resource(text, FUNCTION)?;
        let function_code =
            block_scalar(&function, "FunctionCode").ok_or(TemplateError::NoKey {
                resource: FUNCTION,
                key: "FunctionCode",
            })?;
        let policy = resource(text, POLICY)?;
        let key = |key: &'static str| {
            scalar(&policy, key).ok_or(TemplateError::NoKey {
                resource: POLICY,
                key,
            })
        };
        // Only behaviours the emulator carries out as CloudFront does; any
        // other is named, never approximated.
        let emulated = |key_name: &'static str, supported: &'static [&'static str]| {
            let value = key(key_name)?;
            if supported.contains(&value.as_str()) {
                Ok(value)
            } else {
                Err(TemplateError::NotEmulated {
                    key: key_name,
                    value,
                    supported: match key_name {
                        "HeaderBehavior" => {
                            "none, whitelist, allViewer, allViewerAndWhitelistCloudFront"
                        }
                        "CookieBehavior" => "none",
                        _ => "none, all",
                    },
                })
            }
        };
        const LIVE: &str = "LivePlaylistCachePolicy";
        let live = resource(text, LIVE)?;
        let live_behavior = scalar(&live, "QueryStringBehavior").ok_or(TemplateError::NoKey {
            resource: LIVE,
            key: "QueryStringBehavior",
        })?;
        if live_behavior != "whitelist" {
            return Err(TemplateError::NotEmulated {
                key: "QueryStringBehavior",
                value: live_behavior,
                supported: "whitelist (live playlists)",
            });
        }
        let live_query_strings = list(&live, "QueryStrings").ok_or(TemplateError::NoKey {
            resource: LIVE,
            key: "QueryStrings",
        })?;
        Ok(Self {
            live_query_strings,
            function_code,
            origin_request_policy: OriginRequestPolicy {
                header_behavior: emulated(
                    "HeaderBehavior",
                    &[
                        "none",
                        "whitelist",
                        "allViewer",
                        "allViewerAndWhitelistCloudFront",
                    ],
                )?,
                headers: list(&policy, "Headers")
                    .unwrap_or_default()
                    .into_iter()
                    .map(|h| h.to_ascii_lowercase())
                    .collect(),
                cookie_behavior: emulated("CookieBehavior", &["none"])?,
                query_string_behavior: emulated("QueryStringBehavior", &["none", "all"])?,
            },
        })
    }
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

/// The lines of resource `name` (its header line excluded).
fn resource(text: &str, name: &'static str) -> Result<Vec<String>, TemplateError> {
    let mut lines = text.lines();
    let header = format!("{name}:");
    let start = lines
        .by_ref()
        .find(|l| l.trim_end() == format!("  {header}"))
        .ok_or(TemplateError::NoResource(name))?;
    let level = indent(start);
    Ok(lines
        .take_while(|l| l.trim().is_empty() || indent(l) > level)
        .map(str::to_owned)
        .collect())
}

/// The line index and indentation of `key:` within `lines`.
fn find_key(lines: &[String], key: &str) -> Option<(usize, usize)> {
    let wanted = format!("{key}:");
    lines.iter().enumerate().find_map(|(i, l)| {
        let t = l.trim_start();
        (t == wanted || t.starts_with(&format!("{wanted} "))).then(|| (i, indent(l)))
    })
}

/// The value of a `key: |` block scalar, dedented.
fn block_scalar(lines: &[String], key: &str) -> Option<String> {
    let (at, level) = find_key(lines, key)?;
    if !lines[at].trim_end().ends_with('|') {
        return None;
    }
    let body: Vec<&String> = lines[at + 1..]
        .iter()
        .take_while(|l| l.trim().is_empty() || indent(l) > level)
        .collect();
    let margin = body
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| indent(l))
        .min()?;
    let mut out = String::new();
    for line in body {
        out.push_str(line.get(margin..).unwrap_or(""));
        out.push('\n');
    }
    Some(out.trim_end_matches('\n').to_owned() + "\n")
}

/// The value of a plain `key: value` line.
fn scalar(lines: &[String], key: &str) -> Option<String> {
    let (at, _) = find_key(lines, key)?;
    let value = lines[at].trim().strip_prefix(&format!("{key}:"))?.trim();
    let value = value.split(" #").next().unwrap_or(value).trim();
    (!value.is_empty()).then(|| value.trim_matches('"').to_owned())
}

/// The items of a `key:` followed by `- item` lines.
fn list(lines: &[String], key: &str) -> Option<Vec<String>> {
    let (at, level) = find_key(lines, key)?;
    Some(
        lines[at + 1..]
            .iter()
            .take_while(|l| {
                l.trim().is_empty() || indent(l) > level || l.trim_start().starts_with("- ")
            })
            .filter_map(|l| l.trim().strip_prefix("- "))
            .map(|item| item.trim().trim_matches('"').to_owned())
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_deployed_template() {
        let deployment = Deployment::from_template(DEPLOYED).unwrap();
        assert!(deployment.function_code.starts_with("// CloudFront hands"));
        assert!(deployment.function_code.contains("function handler(event)"));
        assert!(
            !deployment.function_code.contains("\n        var"),
            "dedented"
        );
        let policy = deployment.origin_request_policy;
        assert_eq!(policy.header_behavior, "whitelist");
        assert_eq!(policy.cookie_behavior, "none");
        assert_eq!(policy.query_string_behavior, "all");
        for header in [
            "x-hls-viewer-grant",
            "x-hls-viewer-cookies",
            "x-hls-viewer-host",
            "cloudfront-viewer-address",
            "origin",
        ] {
            assert!(policy.forwards_header(header), "{header}");
        }
        assert!(!policy.forwards_header("cookie"));
        assert!(!policy.forwards_header("host"));
        assert_eq!(
            deployment.live_query_strings,
            ["_HLS_msn", "_HLS_part", "_HLS_skip"]
        );
    }

    #[test]
    fn behaviours_the_emulator_does_not_carry_out_are_refused() {
        let changed = DEPLOYED.replacen(
            "QueryStringBehavior: all",
            "QueryStringBehavior: whitelist",
            1,
        );
        assert_ne!(changed, DEPLOYED);
        assert_eq!(
            Deployment::from_template(&changed),
            Err(TemplateError::NotEmulated {
                key: "QueryStringBehavior",
                value: "whitelist".into(),
                supported: "none, all",
            })
        );
    }

    #[test]
    fn missing_pieces_are_named() {
        assert_eq!(
            Deployment::from_template("Resources:\n  Other:\n    Type: X\n"),
            Err(TemplateError::NoResource("ViewerGrantFunction"))
        );
        let no_code = "Resources:\n  ViewerGrantFunction:\n    Type: AWS::CloudFront::Function\n";
        assert_eq!(
            Deployment::from_template(no_code),
            Err(TemplateError::NoKey {
                resource: "ViewerGrantFunction",
                key: "FunctionCode"
            })
        );
    }
}
