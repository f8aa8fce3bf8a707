//! An independent, player-like reading of an MPD for the DASH tests.
//!
//! Nothing here calls the crate's scanner, planner or resolver: the document
//! is parsed with roxmltree (a DOM reader, where the crate streams with
//! quick-xml), URLs resolve with the tests' own RFC 3986 resolver along the
//! BaseURL chain as ISO/IEC 23009-1 §5.6 describes, and segment templates
//! are expanded the way a player expands them, for several segment numbers
//! and times and for every Representation.

use std::ops::Range;

use roxmltree::{Document, Node};

use super::independent;

/// Resolves like a player: an absolute URL of another scheme (`data:`,
/// `urn:`) stays as it is.
fn resolve(base: &str, reference: &str) -> String {
    let scheme = reference
        .split_once(':')
        .map(|(s, _)| s.to_ascii_lowercase());
    match scheme {
        Some(s)
            if !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
                && s != "http"
                && s != "https" =>
        {
            reference.to_owned()
        }
        _ => independent::resolve(base, reference),
    }
}

const XLINK: &str = "http://www.w3.org/1999/xlink";

/// One URL value in the document.
#[derive(Debug, Clone)]
pub struct UrlValue {
    /// Byte range of the raw value (surrounding whitespace excluded).
    pub range: Range<usize>,
    /// The value with entities decoded.
    pub text: String,
    /// Written as CDATA or with markup inside.
    pub opaque: bool,
    /// `BaseURL`, `Location`, `media`, `sourceURL`, …
    pub kind: String,
}

/// One request a player makes, and the value whose text it came from.
#[derive(Debug, Clone)]
pub struct Request {
    pub url: String,
    pub value: usize,
    /// The text the value expanded to (templates) before resolution.
    pub reference: String,
    /// The absolute base it resolved against.
    pub base: String,
    pub template: bool,
    /// Which BaseURL alternative it resolved against (0: the first).
    pub alternative: usize,
}

/// Every URL value and every request of one MPD.
#[derive(Debug)]
pub struct Reading {
    pub values: Vec<UrlValue>,
    pub requests: Vec<Request>,
    pub dynamic: bool,
}

const TEMPLATE_ATTRIBUTES: [&str; 4] = ["media", "initialization", "index", "bitstreamSwitching"];

/// The URL attributes of an element, by its local name.
fn url_attributes(element: &str) -> &'static [&'static str] {
    match element {
        "SegmentTemplate" => &TEMPLATE_ATTRIBUTES,
        "SegmentURL" => &["media", "index"],
        "Initialization" | "RepresentationIndex" | "BitstreamSwitching" => &["sourceURL"],
        _ => &[],
    }
}

fn is_text_url(element: &str) -> bool {
    matches!(element, "BaseURL" | "Location" | "PatchLocation")
}

/// Reads `text` fetched from `mpd_url`.
pub fn read(text: &str, mpd_url: &str) -> Result<Reading, String> {
    let doc = Document::parse(text).map_err(|e| e.to_string())?;
    let root = doc.root_element();
    if root.tag_name().name() != "MPD" {
        return Err("root is not MPD".into());
    }
    let mut reader = Reader {
        text,
        values: Vec::new(),
        index: Default::default(),
    };
    for node in root.descendants().filter(Node::is_element) {
        reader.collect(node);
    }
    let dynamic = root.attribute("type") == Some("dynamic");
    let mut requests = Vec::new();
    for node in root.descendants().filter(Node::is_element) {
        let name = node.tag_name().name();
        if matches!(name, "Location" | "PatchLocation") {
            if let Some(&value) = reader.index.get(&(node.id(), "#text".into())) {
                let reference = reader.values[value].text.clone();
                requests.push(Request {
                    url: resolve(mpd_url, &reference),
                    value,
                    reference,
                    base: mpd_url.to_owned(),
                    template: false,
                    alternative: 0,
                });
            }
        }
        if let Some(&value) = reader.index.get(&(node.id(), "xlink:href".into())) {
            let reference = reader.values[value].text.clone();
            let parent = node.parent_element().unwrap_or(root);
            for (alternative, base) in reader.bases(parent, mpd_url).into_iter().enumerate() {
                requests.push(Request {
                    url: resolve(&base, &reference),
                    value,
                    reference: reference.clone(),
                    base,
                    template: false,
                    alternative,
                });
            }
        }
        if name == "Representation" {
            reader.representation(node, root, mpd_url, dynamic, &mut requests);
        }
    }
    Ok(Reading {
        values: reader.values,
        requests,
        dynamic,
    })
}

struct Reader<'t> {
    text: &'t str,
    values: Vec<UrlValue>,
    /// (element, attribute name or `#text`) → value index.
    index: std::collections::HashMap<(roxmltree::NodeId, String), usize>,
}

impl Reader<'_> {
    fn collect(&mut self, node: Node) {
        let name = node.tag_name().name();
        for attribute in node.attributes() {
            let key = if attribute.namespace() == Some(XLINK) && attribute.name() == "href" {
                "xlink:href".to_owned()
            } else if url_attributes(name).contains(&attribute.name())
                && attribute.namespace().is_none()
            {
                attribute.name().to_owned()
            } else {
                continue;
            };
            let range = attribute.range_value();
            self.push(node, key, range, attribute.value().to_owned());
        }
        if is_text_url(name) {
            let Some(first) = node.first_child() else {
                return;
            };
            let last = node.last_child().unwrap();
            let raw = first.range().start..last.range().end;
            let text: String = node
                .children()
                .filter(Node::is_text)
                .map(|t| t.text().unwrap_or(""))
                .collect();
            self.push(node, "#text".into(), raw, text);
        }
    }

    fn push(&mut self, node: Node, key: String, raw: Range<usize>, text: String) {
        let source = &self.text[raw.clone()];
        let lead = source.len() - source.trim_start().len();
        let trail = source.len() - source.trim_end().len();
        let range = raw.start + lead..raw.end - trail;
        let opaque = self.text[range.clone()].contains('<');
        let kind = if key == "#text" {
            node.tag_name().name().to_owned()
        } else {
            key.clone()
        };
        self.index.insert((node.id(), key), self.values.len());
        self.values.push(UrlValue {
            range,
            text: text.trim().to_owned(),
            opaque,
            kind,
        });
    }

    /// The absolute BaseURL alternatives in effect below `node`.
    fn bases(&self, node: Node, mpd_url: &str) -> Vec<String> {
        let inherited = match node.parent_element() {
            Some(parent) => self.bases(parent, mpd_url),
            None => vec![mpd_url.to_owned()],
        };
        let own: Vec<&str> = node
            .children()
            .filter(|c| c.is_element() && c.tag_name().name() == "BaseURL")
            .filter_map(|c| self.index.get(&(c.id(), "#text".into())))
            .map(|&i| self.values[i].text.as_str())
            .collect();
        if own.is_empty() {
            return inherited;
        }
        inherited
            .iter()
            .flat_map(|base| own.iter().map(move |r| resolve(base, r)))
            .collect()
    }

    /// The value index of the deepest BaseURL on the chain above `node`.
    fn deepest_base(&self, node: Node) -> Option<usize> {
        let mut at = Some(node);
        while let Some(n) = at {
            let found = n
                .children()
                .filter(|c| c.is_element() && c.tag_name().name() == "BaseURL")
                .find_map(|c| self.index.get(&(c.id(), "#text".into())));
            if let Some(&i) = found {
                return Some(i);
            }
            at = n.parent_element();
        }
        None
    }

    /// The nearest segment-information element `name` for `rep` (its own,
    /// the AdaptationSet's, the Period's) holding `has`.
    fn nearest<'a, 'i>(
        &self,
        rep: Node<'a, 'i>,
        name: &str,
        has: impl Fn(Node<'a, 'i>) -> bool,
    ) -> Option<Node<'a, 'i>> {
        let mut at = Some(rep);
        while let Some(level) = at {
            if level.tag_name().name() == "MPD" {
                return None;
            }
            let found = level
                .children()
                .find(|c| c.is_element() && c.tag_name().name() == name && has(*c));
            if found.is_some() {
                return found;
            }
            at = level.parent_element();
        }
        None
    }

    fn representation(
        &self,
        rep: Node,
        root: Node,
        mpd_url: &str,
        dynamic: bool,
        requests: &mut Vec<Request>,
    ) {
        let bases = self.bases(rep, mpd_url);
        let mut push = |value: usize, reference: String, template: bool| {
            for (alternative, base) in bases.iter().enumerate() {
                requests.push(Request {
                    url: resolve(base, &reference),
                    value,
                    reference: reference.clone(),
                    base: base.clone(),
                    template,
                    alternative,
                });
            }
        };
        let template_attr = |attribute: &str| {
            self.nearest(rep, "SegmentTemplate", |t| t.has_attribute(attribute))
                .map(|t| (t, t.attribute(attribute).unwrap()))
        };
        let media = template_attr("media");
        let init = template_attr("initialization");
        if media.is_some() || init.is_some() {
            let number = |a: &str| template_attr(a).and_then(|(_, v)| v.trim().parse::<u64>().ok());
            let start = number("startNumber").unwrap_or(1);
            let timescale = number("timescale").unwrap_or(1).max(1);
            let duration = number("duration");
            let timeline = self
                .nearest(rep, "SegmentTemplate", |t| {
                    t.children()
                        .any(|c| c.tag_name().name() == "SegmentTimeline")
                })
                .map(timeline_of);
            let points = segment_points(
                start,
                duration,
                timescale,
                timeline,
                period_seconds(rep, root),
                dynamic,
            );
            let id = rep.attribute("id").unwrap_or("");
            let bandwidth = rep.attribute("bandwidth").unwrap_or("0");
            for (attribute, found) in [("media", media), ("index", template_attr("index"))] {
                let Some((element, template)) = found else {
                    continue;
                };
                let value = self.index[&(element.id(), attribute.to_owned())];
                for &(n, t) in &points {
                    if let Some(reference) = expand(template, id, bandwidth, n, t) {
                        push(value, reference, true);
                    }
                }
            }
            if let Some((element, template)) = init {
                let value = self.index[&(element.id(), "initialization".to_owned())];
                if let Some(reference) = expand(template, id, bandwidth, start, 0) {
                    push(value, reference, true);
                }
            }
            return;
        }
        // Segment lists and bases inherit child elements level by level:
        // each URL-carrying child from the nearest level that has one.
        let has_child =
            |name: &'static str| move |n: Node| n.children().any(|c| c.tag_name().name() == name);
        let list = self.nearest(rep, "SegmentList", has_child("SegmentURL"));
        let mut holders = Vec::new();
        if let Some(list) = list {
            holders.extend(
                list.children()
                    .filter(|c| c.tag_name().name() == "SegmentURL"),
            );
        }
        for child in [
            "Initialization",
            "RepresentationIndex",
            "BitstreamSwitching",
        ] {
            let holder = self
                .nearest(rep, "SegmentList", has_child(child))
                .or_else(|| self.nearest(rep, "SegmentBase", has_child(child)));
            if let Some(holder) = holder {
                holders.extend(holder.children().filter(|c| c.tag_name().name() == child));
            }
        }
        let mut needs_base = list.is_none();
        for child in holders {
            for attribute in url_attributes(child.tag_name().name()) {
                if let Some(&value) = self.index.get(&(child.id(), (*attribute).to_owned())) {
                    push(value, self.values[value].text.clone(), false);
                }
            }
            if child.tag_name().name() == "SegmentURL" && !child.has_attribute("media") {
                needs_base = true;
            }
        }
        if needs_base {
            // The Representation's own file: its BaseURL chain, requested
            // as it is (a directory is not a file).
            if let Some(value) = self.deepest_base(rep) {
                for (alternative, base) in bases.iter().enumerate() {
                    if !base.split(['?', '#']).next().unwrap().ends_with('/') {
                        requests.push(Request {
                            url: base.clone(),
                            value,
                            reference: self.values[value].text.clone(),
                            base: base.clone(),
                            template: false,
                            alternative,
                        });
                    }
                }
            }
        }
    }
}

/// A SegmentTimeline's start times; `None` as the last element marks an
/// open end (`@r` negative).
fn timeline_of(template: Node) -> Vec<Option<u64>> {
    let timeline = template
        .children()
        .find(|c| c.tag_name().name() == "SegmentTimeline")
        .unwrap();
    let mut out = Vec::new();
    let mut next = 0u64;
    for s in timeline.children().filter(|c| c.tag_name().name() == "S") {
        let get = |a: &str| s.attribute(a).and_then(|v| v.parse::<i64>().ok());
        let d = get("d").unwrap_or(0).max(0) as u64;
        let mut t = get("t").map_or(next, |t| t.max(0) as u64);
        let r = get("r").unwrap_or(0);
        if r < 0 {
            for _ in 0..1000 {
                out.push(Some(t));
                t += d;
            }
            out.push(None);
            return out;
        }
        for _ in 0..=r {
            out.push(Some(t));
            t += d;
        }
        next = t;
    }
    out
}

/// The Period's length in seconds: its `@duration`, else up to the next
/// Period's `@start`, else up to the presentation's end.
fn period_seconds(rep: Node, root: Node) -> Option<f64> {
    let period = rep.ancestors().find(|a| a.tag_name().name() == "Period")?;
    if let Some(d) = period.attribute("duration").and_then(seconds) {
        return Some(d);
    }
    let start = period.attribute("start").and_then(seconds).unwrap_or(0.0);
    let next = period
        .next_siblings()
        .skip(1) // the first is the Period itself
        .filter(|s| s.tag_name().name() == "Period")
        .find_map(|s| s.attribute("start").and_then(seconds));
    match next {
        Some(n) => Some(n - start),
        None => root
            .attribute("mediaPresentationDuration")
            .and_then(seconds)
            .map(|total| total - start),
    }
}

/// `PnDTnHnMnS` in seconds (the subset MPDs use).
pub fn seconds(text: &str) -> Option<f64> {
    let rest = text.trim().strip_prefix('P')?;
    let (days, time) = match rest.split_once('T') {
        Some((d, t)) => (d, t),
        None => (rest, ""),
    };
    let mut total = 0.0;
    if !days.is_empty() {
        total += days.strip_suffix('D')?.parse::<f64>().ok()? * 86_400.0;
    }
    let mut number = String::new();
    for c in time.chars() {
        match c {
            'H' | 'M' | 'S' => {
                let v: f64 = number.parse().ok()?;
                total += v * match c {
                    'H' => 3600.0,
                    'M' => 60.0,
                    _ => 1.0,
                };
                number.clear();
            }
            c => number.push(c),
        }
    }
    number.is_empty().then_some(total)
}

/// (number, time) pairs a player requests: the first two segments and the
/// last (or, open-ended, a few far ahead).
fn segment_points(
    start: u64,
    duration: Option<u64>,
    timescale: u64,
    timeline: Option<Vec<Option<u64>>>,
    period: Option<f64>,
    dynamic: bool,
) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    match timeline {
        Some(times) => {
            let open = times.last() == Some(&None);
            let times: Vec<u64> = times.into_iter().flatten().collect();
            let picks: Vec<usize> = if open {
                vec![0, 1, times.len() - 1]
            } else {
                vec![0, 1, times.len().saturating_sub(1)]
            };
            for i in picks.into_iter().filter(|&i| i < times.len()) {
                out.push((start + i as u64, times[i]));
            }
        }
        None => {
            let d = duration.unwrap_or(1).max(1);
            let count = match (dynamic, period) {
                (false, Some(seconds)) => {
                    Some(((seconds * timescale as f64) / d as f64).ceil() as u64)
                }
                _ => None,
            };
            let offsets: Vec<u64> = match count {
                Some(c) if c > 0 => vec![0, 1.min(c - 1), c - 1],
                _ => vec![0, 1, 4321, 1_000_000],
            };
            for k in offsets {
                out.push((start + k, k * d));
            }
        }
    }
    out.dedup();
    out
}

/// A template expanded as a player expands it; `None` for an identifier it
/// does not know.
fn expand(template: &str, id: &str, bandwidth: &str, number: u64, time: u64) -> Option<String> {
    let mut out = String::new();
    let mut parts = template.split('$');
    out.push_str(parts.next()?);
    let mut inside = true;
    for part in parts {
        if inside {
            if part.is_empty() {
                out.push('$');
            } else {
                let (name, width) = match part.split_once('%') {
                    Some((n, f)) => (n, f.strip_prefix('0')?.strip_suffix('d')?.parse().ok()?),
                    None => (part, 1),
                };
                let value = match name {
                    "RepresentationID" => id.to_owned(),
                    "Bandwidth" => bandwidth.to_owned(),
                    "Number" => number.to_string(),
                    "Time" => time.to_string(),
                    _ => return None,
                };
                out.push_str(&format!("{value:0>width$}"));
            }
        } else {
            out.push_str(part);
        }
        inside = !inside;
    }
    // An odd number of `$`: an unterminated identifier.
    inside.then_some(out)
}
