//! A streaming read of an MPD: where every URL a DASH player will request
//! sits (byte ranges of attribute values and element text), and just enough
//! of the document's structure to resolve them — the element tree of
//! Periods, AdaptationSets, Representations and segment information, the
//! identifiers and timing templates need. No DOM is built and nothing is
//! re-serialised: the rewriter splices into the byte ranges, so namespaces,
//! comments, attribute order and whitespace stay as they were.
//!
//! The document is read with quick-xml; anything that is not well-formed
//! XML, or not an MPD, is an error (the function answers 502 rather than
//! send a partial document).

use std::borrow::Cow;
use std::ops::Range;

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

/// Why an MPD cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MpdError {
    #[error("not a DASH manifest: the root element is not MPD")]
    NotAnMpd,
    #[error("malformed XML at byte {position}: {reason}")]
    Xml { position: u64, reason: String },
    #[error("element <{0}> has a malformed attribute")]
    Attribute(String),
    #[error("unknown entity `&{0};`")]
    Entity(String),
}

/// The elements the rewriter needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Mpd,
    Period,
    AdaptationSet,
    Representation,
    SegmentTemplate,
    SegmentList,
    SegmentBase,
    SegmentTimeline,
    /// Anything else that carries an `xlink:href` (EventStream, …).
    Other,
}

impl Kind {
    fn of(local: &str) -> Option<Kind> {
        Some(match local {
            "MPD" => Kind::Mpd,
            "Period" => Kind::Period,
            "AdaptationSet" => Kind::AdaptationSet,
            "Representation" => Kind::Representation,
            "SegmentTemplate" => Kind::SegmentTemplate,
            "SegmentList" => Kind::SegmentList,
            "SegmentBase" => Kind::SegmentBase,
            "SegmentTimeline" => Kind::SegmentTimeline,
            _ => return None,
        })
    }

    /// Levels whose `BaseURL` children form the URL hierarchy.
    pub fn has_base_urls(self) -> bool {
        matches!(
            self,
            Kind::Mpd | Kind::Period | Kind::AdaptationSet | Kind::Representation
        )
    }
}

/// One tracked element and the attributes the rewriter reads.
#[derive(Clone, Debug, Default)]
pub struct Node {
    pub kind: Option<Kind>,
    pub parent: Option<usize>,
    /// `@id` (Representation: `$RepresentationID$`).
    pub id: Option<String>,
    pub bandwidth: Option<u64>,
    pub start_number: Option<u64>,
    pub duration: Option<u64>,
    pub timescale: Option<u64>,
    /// Period `@duration` or MPD `@mediaPresentationDuration`, in seconds.
    pub seconds: Option<f64>,
    /// Segment information: which URLs it sets (a template's `media`,
    /// `initialization`, `index`; a list's `SegmentURL`s, `Initialization`,
    /// …). A Representation's own element overrides only what it sets.
    pub sets: Vec<SlotKind>,
    /// SegmentTimeline: the segments it lists (`None`: unbounded, `r=-1`)
    /// and their start times.
    pub timeline: Option<Timeline>,
}

/// A SegmentTimeline's segments.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Timeline {
    /// Segment count, `None` when an `S@r` is negative (until the end).
    pub count: Option<u64>,
    /// Every segment's start time (when bounded).
    pub times: Vec<u64>,
    /// Where the next `S` without `@t` starts.
    next: u64,
}

/// What a URL slot is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SlotKind {
    BaseUrl,
    Location,
    PatchLocation,
    XlinkHref,
    SegmentUrlMedia,
    SegmentUrlIndex,
    InitializationSource,
    RepresentationIndexSource,
    BitstreamSwitchingSource,
    TemplateMedia,
    TemplateInitialization,
    TemplateIndex,
    TemplateBitstreamSwitching,
}

impl SlotKind {
    pub fn is_template(self) -> bool {
        matches!(
            self,
            SlotKind::TemplateMedia
                | SlotKind::TemplateInitialization
                | SlotKind::TemplateIndex
                | SlotKind::TemplateBitstreamSwitching
        )
    }
}

/// A URL in the document.
#[derive(Clone, Debug)]
pub struct Slot {
    /// Byte range of the raw (XML-escaped) value, surrounding whitespace
    /// excluded.
    pub range: Range<usize>,
    pub kind: SlotKind,
    /// The tracked element it belongs to: the element a `BaseURL`,
    /// `Location` or `PatchLocation` is a child of; the segment
    /// information element of a `SegmentURL`, `Initialization` or
    /// `RepresentationIndex`; the element itself for attributes.
    pub node: usize,
    /// The value with entities decoded.
    pub value: String,
    /// Set when the value cannot be spliced safely (CDATA, a comment or an
    /// element inside a text value).
    pub opaque: bool,
}

/// What the rewriter needs of an MPD.
#[derive(Clone, Debug)]
pub struct Mpd {
    pub dynamic: bool,
    /// The MPD's own live timing attributes, in seconds (absent: `None`):
    /// `timeShiftBufferDepth`, `suggestedPresentationDelay`,
    /// `minimumUpdatePeriod`, `maxSegmentDuration`.
    pub time_shift_buffer_depth: Option<f64>,
    pub suggested_presentation_delay: Option<f64>,
    pub minimum_update_period: Option<f64>,
    pub max_segment_duration: Option<f64>,
    pub nodes: Vec<Node>,
    pub slots: Vec<Slot>,
}

impl Mpd {
    /// The nearest tracked ancestor of `node` (inclusive) of `kind`.
    pub fn enclosing(&self, mut node: usize, kind: Kind) -> Option<usize> {
        loop {
            if self.nodes[node].kind == Some(kind) {
                return Some(node);
            }
            node = self.nodes[node].parent?;
        }
    }

    /// Every Representation under `node` (or `node` itself).
    pub fn representations(&self, node: usize) -> Vec<usize> {
        if self.nodes[node].kind == Some(Kind::Representation) {
            return vec![node];
        }
        (0..self.nodes.len())
            .filter(|&n| self.nodes[n].kind == Some(Kind::Representation) && self.is_under(n, node))
            .collect()
    }

    /// Whether `node` lies under `ancestor`.
    pub fn is_under(&self, node: usize, ancestor: usize) -> bool {
        let mut at = self.nodes[node].parent;
        while let Some(n) = at {
            if n == ancestor {
                return true;
            }
            at = self.nodes[n].parent;
        }
        false
    }

    /// The direct tracked children of `node` of `kind`.
    pub fn children(&self, node: usize, kind: Kind) -> impl Iterator<Item = usize> + '_ {
        (0..self.nodes.len()).filter(move |&n| {
            self.nodes[n].parent == Some(node) && self.nodes[n].kind == Some(kind)
        })
    }
}

/// The local part of a (possibly prefixed) name.
fn local(name: &str) -> &str {
    name.rsplit_once(':').map_or(name, |(_, l)| l)
}

/// Decodes XML's predefined entities and character references.
pub fn unescape(raw: &str) -> Result<String, MpdError> {
    unescape_cow(raw).map(Cow::into_owned)
}

/// [`unescape`], borrowing when there is nothing to decode (the common case:
/// most attributes of a large MPD are numbers).
fn unescape_cow(raw: &str) -> Result<Cow<'_, str>, MpdError> {
    if !raw.contains('&') {
        return Ok(Cow::Borrowed(raw));
    }
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let end = rest[at..]
            .find(';')
            .ok_or_else(|| MpdError::Entity(rest[at + 1..].chars().take(10).collect()))?;
        let name = &rest[at + 1..at + end];
        let decoded = match name {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            _ => {
                let code = if let Some(hex) = name.strip_prefix("#x") {
                    u32::from_str_radix(hex, 16).ok()
                } else if let Some(dec) = name.strip_prefix('#') {
                    dec.parse().ok()
                } else {
                    None
                };
                code.and_then(char::from_u32)
                    .ok_or_else(|| MpdError::Entity(name.chars().take(10).collect()))?
            }
        };
        out.push(decoded);
        rest = &rest[at + end + 1..];
    }
    out.push_str(rest);
    Ok(Cow::Owned(out))
}

/// Byte offset of `part` (a slice the reader borrowed from `text`) in
/// `text`; an error, never a wrong range, if it does not lie inside.
fn offset(text: &str, part: &[u8]) -> Result<usize, MpdError> {
    (part.as_ptr() as usize)
        .checked_sub(text.as_ptr() as usize)
        .filter(|start| start + part.len() <= text.len())
        .ok_or_else(|| MpdError::Xml {
            position: 0,
            reason: "a value does not lie inside the document".into(),
        })
}

/// `text[range]`, or an error when the range is not one (a reader
/// surprise), never a panic.
fn slice(text: &str, range: Range<usize>) -> Result<&str, MpdError> {
    let position = range.start as u64;
    text.get(range).ok_or(MpdError::Xml {
        position,
        reason: "an element's text could not be located".into(),
    })
}

/// An element's attributes as (local name, raw value range, decoded value).
/// One attribute: its name, the byte range of its raw value, the value decoded.
type Attribute<'t> = (&'t str, Range<usize>, Cow<'t, str>);

fn attributes<'t>(
    text: &'t str,
    element: &BytesStart<'_>,
    name: &str,
) -> Result<Vec<Attribute<'t>>, MpdError> {
    let mut out = Vec::new();
    for attribute in element.attributes().with_checks(true) {
        let attribute = attribute.map_err(|_| MpdError::Attribute(name.to_owned()))?;
        let key: &str = attribute.key.as_ref();
        let raw: &str = attribute.value.as_ref();
        let start = offset(text, raw.as_bytes())?;
        // XML forbids `<` in an attribute value; the reader lets it pass.
        if raw.contains('<') {
            return Err(MpdError::Attribute(name.to_owned()));
        }
        let key_start = offset(text, key.as_bytes())?;
        let key = slice(text, key_start..key_start + key.len())?;
        let range = start..start + raw.len();
        let value = unescape_cow(slice(text, range.clone())?)?;
        out.push((key, range, value));
    }
    Ok(out)
}

fn number(value: &str) -> Option<u64> {
    value.trim().parse().ok()
}

/// An ISO 8601 duration (`PT1H2M3.5S`, `P1DT2H`) in seconds.
pub fn iso_duration(value: &str) -> Option<f64> {
    let rest = value.trim().strip_prefix('P')?;
    let (days, time) = match rest.split_once('T') {
        Some((d, t)) => (d, t),
        None => (rest, ""),
    };
    let mut seconds = 0.0;
    let mut take = |text: &str, units: &[(char, f64)]| -> Option<()> {
        let mut number = String::new();
        for c in text.chars() {
            if c.is_ascii_digit() || c == '.' {
                number.push(c);
            } else {
                let factor = units.iter().find(|(u, _)| *u == c)?.1;
                seconds += number.parse::<f64>().ok()? * factor;
                number.clear();
            }
        }
        number.is_empty().then_some(())
    };
    take(
        days,
        &[
            ('Y', 31_536_000.0),
            ('M', 2_592_000.0),
            ('W', 604_800.0),
            ('D', 86_400.0),
        ],
    )?;
    take(time, &[('H', 3600.0), ('M', 60.0), ('S', 1.0)])?;
    Some(seconds)
}

/// Reads an MPD.
pub fn scan(text: &str) -> Result<Mpd, MpdError> {
    let mut reader = Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    let mut nodes: Vec<Node> = Vec::new();
    let mut slots: Vec<Slot> = Vec::new();
    // Open elements: (tracked node, or None) and the nearest tracked node.
    let mut stack: Vec<(Option<usize>, Option<usize>)> = Vec::new();
    // An open text slot: (kind, owning node, content start, depth).
    let mut open_text: Option<(SlotKind, usize, usize, usize)> = None;
    let mut text_broken = false;
    let mut dynamic = false;
    let mut timing = [None; 4];
    let mut seen_root = false;
    loop {
        let position = reader.buffer_position();
        let event = reader.read_event().map_err(|e| MpdError::Xml {
            position,
            reason: e.to_string(),
        })?;
        match event {
            Event::Eof => break,
            Event::Start(ref element) | Event::Empty(ref element) => {
                let empty = matches!(event, Event::Empty(_));
                let qname = element.name();
                let raw_name: &str = qname.as_ref();
                let name = local(raw_name);
                if !seen_root {
                    if name != "MPD" {
                        return Err(MpdError::NotAnMpd);
                    }
                    seen_root = true;
                }
                let parent = stack.last().and_then(|(_, nearest)| *nearest);
                let attrs = attributes(text, element, name)?;
                if open_text.is_some() {
                    // Markup inside a BaseURL, Location or PatchLocation: the
                    // text is not a URL, and nothing inside it is read (its
                    // ranges would overlap the text's).
                    text_broken = true;
                    if !empty {
                        stack.push((None, parent));
                    }
                    continue;
                }
                let kind = Kind::of(name);
                // Elements carrying URLs are tracked too, so a slot can name them.
                let tracked = kind.is_some()
                    || attrs
                        .iter()
                        .any(|(k, _, _)| k.ends_with(":href") || *k == "href");
                let mut this = None;
                if tracked {
                    let mut node = Node {
                        kind: Some(kind.unwrap_or(Kind::Other)),
                        parent,
                        ..Node::default()
                    };
                    for (key, range, value) in &attrs {
                        let k = local(key);
                        match (kind, k) {
                            (Some(Kind::Mpd), "type") => dynamic = value.trim() == "dynamic",
                            (Some(Kind::Mpd), "timeShiftBufferDepth") => {
                                timing[0] = iso_duration(value)
                            }
                            (Some(Kind::Mpd), "suggestedPresentationDelay") => {
                                timing[1] = iso_duration(value)
                            }
                            (Some(Kind::Mpd), "minimumUpdatePeriod") => {
                                timing[2] = iso_duration(value)
                            }
                            (Some(Kind::Mpd), "maxSegmentDuration") => {
                                timing[3] = iso_duration(value)
                            }
                            (Some(Kind::Mpd), "mediaPresentationDuration")
                            | (Some(Kind::Period), "duration") => {
                                node.seconds = iso_duration(value)
                            }
                            (_, "id") => node.id = Some(value.to_string()),
                            (_, "bandwidth") => node.bandwidth = number(value),
                            (_, "startNumber") => node.start_number = number(value),
                            (_, "duration") => node.duration = number(value),
                            (_, "timescale") => node.timescale = number(value),
                            _ => {}
                        }
                        let slot_kind = match (kind, *key) {
                            (Some(Kind::SegmentTemplate), "media") => Some(SlotKind::TemplateMedia),
                            (Some(Kind::SegmentTemplate), "initialization") => {
                                Some(SlotKind::TemplateInitialization)
                            }
                            (Some(Kind::SegmentTemplate), "index") => Some(SlotKind::TemplateIndex),
                            (Some(Kind::SegmentTemplate), "bitstreamSwitching") => {
                                Some(SlotKind::TemplateBitstreamSwitching)
                            }
                            (_, k) if k.ends_with(":href") => Some(SlotKind::XlinkHref),
                            _ => None,
                        };
                        if let Some(slot_kind) = slot_kind {
                            node.sets.push(slot_kind);
                            slots.push(Slot {
                                range: range.clone(),
                                kind: slot_kind,
                                node: nodes.len(),
                                value: value.to_string(),
                                opaque: false,
                            });
                        }
                    }
                    nodes.push(node);
                    this = Some(nodes.len() - 1);
                }
                // Children of segment information that carry URLs.
                let owner = parent.map(|p| (p, nodes[p].kind));
                let child_slot = |key: &str| match (name, key) {
                    ("SegmentURL", "media") => Some(SlotKind::SegmentUrlMedia),
                    ("SegmentURL", "index") => Some(SlotKind::SegmentUrlIndex),
                    ("Initialization", "sourceURL") => Some(SlotKind::InitializationSource),
                    ("RepresentationIndex", "sourceURL") => {
                        Some(SlotKind::RepresentationIndexSource)
                    }
                    ("BitstreamSwitching", "sourceURL") => Some(SlotKind::BitstreamSwitchingSource),
                    _ => None,
                };
                if let Some((
                    owner,
                    Some(Kind::SegmentList | Kind::SegmentBase | Kind::SegmentTemplate),
                )) = owner
                {
                    for (key, range, value) in &attrs {
                        if let Some(kind) = child_slot(key) {
                            if !nodes[owner].sets.contains(&kind) {
                                nodes[owner].sets.push(kind);
                            }
                            slots.push(Slot {
                                range: range.clone(),
                                kind,
                                node: owner,
                                value: value.to_string(),
                                opaque: false,
                            });
                        }
                    }
                }
                // SegmentTimeline's S elements.
                if name == "S" {
                    if let Some((timeline, Some(Kind::SegmentTimeline))) = owner {
                        let get = |k: &str| {
                            attrs
                                .iter()
                                .find(|(key, _, _)| *key == k)
                                .and_then(|(_, _, v)| v.trim().parse::<i64>().ok())
                        };
                        let entry = nodes[timeline].timeline.get_or_insert_with(|| Timeline {
                            count: Some(0),
                            times: Vec::new(),
                            next: 0,
                        });
                        let d = get("d").unwrap_or(0).max(0) as u64;
                        let r = get("r").unwrap_or(0);
                        let start = get("t").map(|t| t.max(0) as u64).unwrap_or(entry.next);
                        match (r, entry.count) {
                            (r, Some(count)) if r >= 0 && entry.times.len() < 100_000 => {
                                let mut t = start;
                                for _ in 0..=r.min(100_000) {
                                    entry.times.push(t);
                                    t = t.saturating_add(d);
                                }
                                entry.next = t;
                                entry.count =
                                    Some(count.saturating_add(r as u64).saturating_add(1));
                            }
                            _ => entry.count = None,
                        }
                    }
                }
                // Text-valued URL elements.
                let text_kind = match name {
                    "BaseURL" => Some(SlotKind::BaseUrl),
                    "Location" => Some(SlotKind::Location),
                    "PatchLocation" => Some(SlotKind::PatchLocation),
                    _ => None,
                };
                if let (Some(kind), Some(owner), false) = (text_kind, parent, empty) {
                    let content_start =
                        offset(text, element.as_ref().as_bytes())? + element.len() + 1;
                    open_text = Some((kind, owner, content_start, stack.len() + 1));
                    text_broken = false;
                }
                if !empty {
                    stack.push((this, this.or(parent)));
                }
            }
            Event::End(ref end) => {
                if let Some((kind, owner, content_start, depth)) = open_text {
                    if depth == stack.len() {
                        let qname = end.name();
                        let name: &str = qname.as_ref();
                        let content_end = offset(text, name.as_bytes())?.saturating_sub(2);
                        let raw = slice(text, content_start..content_end.max(content_start))?;
                        let trimmed = raw.trim();
                        let start = content_start + (raw.len() - raw.trim_start().len());
                        slots.push(Slot {
                            range: start..start + trimmed.len(),
                            kind,
                            node: owner,
                            value: if text_broken {
                                String::new()
                            } else {
                                unescape(trimmed)?
                            },
                            opaque: text_broken,
                        });
                        open_text = None;
                    }
                }
                stack.pop();
            }
            Event::CData(_) | Event::Comment(_) | Event::PI(_) if open_text.is_some() => {
                text_broken = true;
            }
            _ => {}
        }
    }
    if !seen_root {
        return Err(MpdError::NotAnMpd);
    }
    if !stack.is_empty() {
        return Err(MpdError::Xml {
            position: text.len() as u64,
            reason: "the document ends inside an element".into(),
        });
    }
    // Attach each timeline to its segment template or list.
    for n in 0..nodes.len() {
        if nodes[n].kind == Some(Kind::SegmentTimeline) {
            if let Some(parent) = nodes[n].parent {
                nodes[parent].timeline = nodes[n].timeline.clone();
            }
        }
    }
    slots.sort_by_key(|s| s.range.start);
    let [time_shift_buffer_depth, suggested_presentation_delay, minimum_update_period, max_segment_duration] =
        timing;
    Ok(Mpd {
        dynamic,
        time_shift_buffer_depth,
        suggested_presentation_delay,
        minimum_update_period,
        max_segment_duration,
        nodes,
        slots,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MPD: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<!-- a comment -->
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" mediaPresentationDuration="PT1M0.5S">
  <BaseURL> https://d.example/v/ </BaseURL>
  <Location>https://d.example/v/manifest.mpd?a=1&amp;b=2</Location>
  <Period id="p0" duration="PT60S">
    <AdaptationSet>
      <SegmentTemplate timescale="1000" duration="2000" startNumber="1" media="$RepresentationID$/seg-$Number%05d$.m4s" initialization='$RepresentationID$/init.mp4'/>
      <Representation id="720p" bandwidth="3000000"/>
      <Representation id="360p" bandwidth="800000">
        <SegmentList>
          <Initialization sourceURL="i.mp4"/>
          <SegmentURL media="a.m4s"/><SegmentURL media="b.m4s" index="b.sidx"/>
        </SegmentList>
      </Representation>
    </AdaptationSet>
  </Period>
</MPD>"#;

    #[test]
    fn finds_every_url_with_its_byte_range() {
        let mpd = scan(MPD).unwrap();
        let found: Vec<(SlotKind, &str, &str)> = mpd
            .slots
            .iter()
            .map(|s| (s.kind, &MPD[s.range.clone()], s.value.as_str()))
            .collect();
        assert_eq!(
            found,
            [
                (
                    SlotKind::BaseUrl,
                    "https://d.example/v/",
                    "https://d.example/v/"
                ),
                (
                    SlotKind::Location,
                    "https://d.example/v/manifest.mpd?a=1&amp;b=2",
                    "https://d.example/v/manifest.mpd?a=1&b=2"
                ),
                (
                    SlotKind::TemplateMedia,
                    "$RepresentationID$/seg-$Number%05d$.m4s",
                    "$RepresentationID$/seg-$Number%05d$.m4s"
                ),
                (
                    SlotKind::TemplateInitialization,
                    "$RepresentationID$/init.mp4",
                    "$RepresentationID$/init.mp4"
                ),
                (SlotKind::InitializationSource, "i.mp4", "i.mp4"),
                (SlotKind::SegmentUrlMedia, "a.m4s", "a.m4s"),
                (SlotKind::SegmentUrlMedia, "b.m4s", "b.m4s"),
                (SlotKind::SegmentUrlIndex, "b.sidx", "b.sidx"),
            ]
        );
        assert!(!mpd.dynamic);
        let reps: Vec<_> = mpd.representations(0);
        assert_eq!(reps.len(), 2);
        assert_eq!(mpd.nodes[reps[0]].id.as_deref(), Some("720p"));
        assert_eq!(mpd.nodes[0].seconds, Some(60.5));
    }

    #[test]
    fn refuses_what_is_not_a_well_formed_mpd() {
        assert_eq!(scan("<html></html>").unwrap_err(), MpdError::NotAnMpd);
        assert!(matches!(
            scan("<MPD><Period></MPD>"),
            Err(MpdError::Xml { .. })
        ));
        assert!(scan("<MPD a='1></MPD>").is_err());
        assert!(scan("<MPD><BaseURL>&nope;</BaseURL></MPD>").is_err());
        assert!(matches!(scan("<MPD>"), Err(MpdError::Xml { .. })));
        assert_eq!(scan("").unwrap_err(), MpdError::NotAnMpd);
    }

    #[test]
    fn durations() {
        assert_eq!(iso_duration("PT2H"), Some(7200.0));
        assert_eq!(iso_duration("PT1.5S"), Some(1.5));
        assert_eq!(iso_duration("P1DT1M"), Some(86_460.0));
        assert_eq!(iso_duration("T1S"), None);
        assert_eq!(iso_duration("PT1X"), None);
    }

    #[test]
    fn timelines_count_their_segments() {
        let mpd = scan(
            r#"<MPD><Period><AdaptationSet><SegmentTemplate media="$Time$.m4s">
            <SegmentTimeline><S t="100" d="10" r="2"/><S d="20"/></SegmentTimeline>
            </SegmentTemplate></AdaptationSet></Period></MPD>"#,
        )
        .unwrap();
        let template = mpd
            .nodes
            .iter()
            .find(|n| n.kind == Some(Kind::SegmentTemplate))
            .unwrap();
        let timeline = template.timeline.as_ref().unwrap();
        assert_eq!(timeline.count, Some(4));
        assert_eq!(timeline.times, [100, 110, 120, 130]);
    }

    #[test]
    fn markup_inside_a_url_text_is_read_as_nothing() {
        // Found by fuzzing: an element inside BaseURL gave overlapping ranges.
        let mpd =
            scan("<MPD>\n<BaseURL n=\"e\"><SegmentTemplate media=\"$R\"/> </BaseURL></MPD>\n")
                .unwrap();
        assert_eq!(mpd.slots.len(), 1);
        assert!(mpd.slots[0].opaque);
        let mpd =
            scan("<MPD><BaseURL>a/<!-- c -->b/</BaseURL><Location>x.mpd</Location></MPD>").unwrap();
        assert!(mpd.slots[0].opaque);
        assert_eq!(mpd.slots[1].value, "x.mpd");
        for pair in mpd.slots.windows(2) {
            assert!(pair[0].range.end <= pair[1].range.start);
        }
    }
}
