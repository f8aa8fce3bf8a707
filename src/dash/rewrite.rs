//! The MPD rewriter: every URL a DASH player will request carries a grant,
//! under the same rules as HLS ([`crate::scope`], [`crate::grant`]).
//!
//! URLs resolve the DASH way: a `BaseURL` resolves against the level above
//! it (MPD → Period → AdaptationSet → Representation, the MPD's own URL at
//! the top), several `BaseURL`s at one level are alternatives (only the
//! first signable one is granted: a player that fails over to another gets
//! `403`), and a segment URL resolves against the `BaseURL`s in effect
//! for its Representation (a query on a `BaseURL` is not inherited: RFC 3986
//! drops it). URLs on other hosts are left alone.
//!
//! A `SegmentTemplate` cannot be signed per segment — one query is appended
//! to the attribute and the player copies it to every segment — so it is
//! granted the pattern its segments expand to, as tightly as CloudFront's
//! syntax allows: the template's fixed parts stay literal;
//! `$RepresentationID$` and `$Bandwidth$` are substituted for every
//! Representation it applies to; `$Number$` becomes as many `?` as its
//! digits when the presentation bounds them to one width (`$Number%05d$`
//! over a static presentation), else `*`, as do `$Time$` and `$SubNumber$`.
//! The patterns of all Representations merge into one
//! ([`scope::merge_patterns`]). A pattern — a template's, or targets merged
//! across Representations — that could reach past its own file names (no
//! literal extension, a `*` before the file name, a name starting with
//! wildcards) is left unsigned outside `directory` mode (`pattern_obstacle`). A live MPD (`type="dynamic"`) uses `*` for the number, so its
//! URLs stay identical across refreshes within an expiry bucket.
//!
//! The signing parameters are appended to the attribute or text, `&` written
//! `&amp;`; a `Location` naming an MPD is renamed to the routing suffix so
//! the refresh comes back through the function.

use std::collections::HashMap;
use std::sync::Arc;

use crate::dash::scan::{scan, Kind, Mpd, Slot, SlotKind};
use crate::grant::IssueLimits;
use crate::hls::rewrite::{Carry, RewriteError, RewriteStats, Rewriter, Rewritten, Viewer};
use crate::live::LiveTiming;
use crate::policy::wildcard_match;
use crate::scope::{self, Mode, Unsigned};
use crate::signed_url::UrlParts;
use crate::uri::{self, AbsoluteUrl};

/// Stand-ins for the template's variable parts while the URL is resolved
/// (private-use characters: no URL has them, resolution keeps them).
const NUMBER: char = '\u{F8F0}';
const TIME: char = '\u{F8F1}';
const SUB_NUMBER: char = '\u{F8F2}';
/// The widest `%0Nd` a template may ask for: a `u64` has 20 digits. A wider
/// one does not describe a URL a player could request; such a template is
/// left unsigned (and never makes a pattern of that many characters).
const MAX_WIDTH: usize = 20;
/// The most BaseURL alternatives kept in effect at one level.
const MAX_ALTERNATIVES: usize = 16;

/// What to do with one slot.
enum Plan {
    Untouched,
    Unsigned(Unsigned),
    Sign {
        resource: String,
        canned: bool,
        /// Byte offset (in the raw value) of a final `.mpd` to rename.
        rename_at: Option<usize>,
        /// The grant covers the next entries of a SegmentURL run (a digit
        /// pattern, or a directory): they share it without planning.
        run: bool,
        /// An exact grant on an MPD that comes back through the function
        /// (`Location`): it lasts as the viewer's grant
        /// ([`crate::grant::IssueLimits::routed`]).
        routed: bool,
    },
    /// The viewer's own parameters (`propagate` mode, its policy covers
    /// every target).
    Propagate {
        params: Arc<str>,
        rename_at: Option<usize>,
    },
}

impl Rewriter {
    /// Rewrites an MPD for `viewer` at `now`: every URL on the
    /// distribution gets a grant, every other byte stays.
    pub fn rewrite_mpd(
        &self,
        text: &str,
        viewer: &Viewer<'_>,
        now: u64,
    ) -> Result<Rewritten, RewriteError> {
        self.rewrite_mpd_carrying(text, viewer, now, None)
    }

    /// [`Rewriter::rewrite_mpd`], leaving the URLs that `carry` covers to
    /// it (see [`Carry`]); the others are signed as the mode says.
    pub fn rewrite_mpd_carrying(
        &self,
        text: &str,
        viewer: &Viewer<'_>,
        now: u64,
        carry: Option<Carry>,
    ) -> Result<Rewritten, RewriteError> {
        let mpd = scan(text)?;
        let live = LiveTiming::of_mpd(&mpd);
        let (base, limits) = self.start(viewer, live.as_ref(), now)?;
        let planner = Planner {
            rewriter: self,
            mpd: &mpd,
            base: &base,
            limits,
            confinement: self.options().confinement.map(|c| c.prefix(base.path())),
            viewer_params: self.carry_for(carry, viewer.grant, &limits),
            memo: Default::default(),
        };
        let mut stats = RewriteStats {
            uris: mpd.slots.len(),
            ..RewriteStats::default()
        };
        let mut body = String::with_capacity(text.len() + mpd.slots.len() * 220);
        let mut copied = 0;
        // The last grant and its parameters, XML-escaped: a run of segments
        // shares one.
        let mut last: Option<(String, bool, Arc<str>)> = None;
        // The last SegmentURL granted by a pattern: (its element, its value).
        let mut run: Option<(usize, &str)> = None;
        for slot in &mpd.slots {
            let raw = &text[slot.range.clone()];
            body.push_str(&text[copied..slot.range.start]);
            copied = slot.range.end;
            // A run of SegmentURLs: the next entry of the same list and the
            // same shape (the same text but for its sequence number, a plain
            // relative path) resolves into the same directory and gets the
            // same pattern; only its own text is left to check.
            if let (Some((node, previous)), Some((_, _, escaped))) = (run, &last) {
                if slot.kind == SlotKind::SegmentUrlMedia
                    && slot.node == node
                    && raw == slot.value
                    && scope::same_pattern(previous, raw)
                    && uri::is_plain_relative_path(raw)
                    && crate::hls::rewrite::check_relative(raw).is_ok()
                {
                    stats.signed += 1;
                    stats.cache_hits += 1;
                    body.push_str(raw);
                    body.push('?');
                    body.push_str(escaped);
                    run = Some((node, raw));
                    continue;
                }
            }
            run = None;
            let (params, rename_at) = match planner.plan(slot, raw) {
                Plan::Untouched => {
                    stats.untouched += 1;
                    body.push_str(raw);
                    continue;
                }
                Plan::Unsigned(reason) => {
                    stats.unsigned += 1;
                    stats.unsigned_reason.get_or_insert(reason);
                    body.push_str(raw);
                    continue;
                }
                Plan::Sign {
                    resource,
                    canned,
                    rename_at,
                    run: pattern,
                    routed,
                } => {
                    let escaped = match &last {
                        Some((r, c, escaped)) if *r == resource && *c == canned => {
                            stats.cache_hits += 1;
                            escaped.clone()
                        }
                        _ => {
                            // An MPD `Location` comes back through the
                            // function: its own exact grant lasts as the
                            // viewer's.
                            let policy = match routed {
                                true => limits.routed().policy(&resource),
                                false => limits.policy(&resource),
                            };
                            let (params, hit) =
                                self.cache().get_or_sign(self.signer(), &policy, canned)?;
                            if hit {
                                stats.cache_hits += 1;
                            } else {
                                stats.signatures += 1;
                            }
                            let escaped: Arc<str> = Arc::from(params.replace('&', "&amp;"));
                            last = Some((resource, canned, escaped.clone()));
                            escaped
                        }
                    };
                    if pattern
                        && slot.kind == SlotKind::SegmentUrlMedia
                        && raw == slot.value
                        && uri::is_plain_relative_path(raw)
                    {
                        run = Some((slot.node, raw));
                    }
                    (escaped, rename_at)
                }
                Plan::Propagate { params, rename_at } => {
                    stats.propagated += 1;
                    if params.is_empty() && rename_at.is_none() {
                        // Carried by cookies or by the player: as it is.
                        stats.signed += 1;
                        body.push_str(raw);
                        continue;
                    }
                    (Arc::from(params.replace('&', "&amp;")), rename_at)
                }
            };
            stats.signed += 1;
            stats.renamed += usize::from(rename_at.is_some());
            write_signed(
                raw,
                rename_at,
                &self.options().dash_suffix,
                &params,
                &mut body,
            );
        }
        body.push_str(&text[copied..]);
        Ok(Rewritten {
            body,
            expires: limits.expires,
            pinned: limits.pinned,
            live_max_age: live.map(|timing| timing.max_age()),
            stats,
        })
    }
}

/// After the last wildcard, a literal `.ext` in the file name: the pattern
/// covers its own files, not their directory.
fn has_extension(resource: &str) -> bool {
    let tail = &resource[resource.rfind(['*', '?']).map_or(0, |i| i + 1)..];
    tail.rfind('.')
        .is_some_and(|dot| dot + 1 < tail.len() && !tail[dot..].contains('/'))
}

/// Why a pattern may not be issued outside `directory` mode, if it may not.
///
/// CloudFront matches a Resource against the query too, and its `?` stands
/// for any character, the query's `?` and `/` included. So a `*` reaches
/// every URL that starts with the literal text before it
/// (`…/hd/seg-*.m4s` covers `…/hd/seg-x?.m4s`), and a file name that
/// starts with wildcards reaches the directory's short names
/// (`…/v/?????.m4s` covers `…/v/k.ts?.m4s`, which S3 serves as `k.ts`).
/// A pattern therefore needs a literal extension after its last wildcard,
/// no `*` before its file name, and a file name that starts with a literal
/// character (or one `?`, which can only stand for the query's own `?`
/// in front of the rest: the directory itself).
fn pattern_obstacle(resource: &str) -> Option<Unsigned> {
    if !resource.contains(['*', '?']) {
        return None;
    }
    if !has_extension(resource) {
        return Some(Unsigned::TemplateWithoutExtension);
    }
    let name = &resource[resource.rfind('/').map_or(0, |i| i + 1)..];
    let leading = name.chars().take_while(|c| matches!(c, '*' | '?')).count();
    let star_outside_name = resource
        .find('*')
        .is_some_and(|star| resource[star..].contains('/'));
    if leading >= 2 || name.starts_with('*') || star_outside_name {
        return Some(Unsigned::TemplateReachesDirectory);
    }
    None
}

/// The length of `url`'s path and query (everything after the authority).
fn target_path_and_query_len(url: &str) -> usize {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    url.len()
        - url[after_scheme..]
            .find('/')
            .map_or(url.len(), |i| after_scheme + i)
}

/// Appends `raw` (an XML-escaped URL), its final `.mpd` at `rename_at`
/// replaced by `suffix`, with `escaped_params` (the signing parameters, `&`
/// written `&amp;`) added to its query ahead of any fragment.
fn write_signed(
    raw: &str,
    rename_at: Option<usize>,
    suffix: &str,
    escaped_params: &str,
    out: &mut String,
) {
    // A `#` right after `&` starts a character reference, not a fragment.
    let fragment_at = raw
        .char_indices()
        .find(|&(i, c)| c == '#' && !raw[..i].ends_with('&'))
        .map_or(raw.len(), |(i, _)| i);
    let (url, fragment) = raw.split_at(fragment_at);
    match rename_at {
        Some(at) if url.get(at..at + ".mpd".len()) == Some(".mpd") => {
            out.push_str(&url[..at]);
            out.push_str(suffix);
            out.push_str(&url[at + ".mpd".len()..]);
        }
        _ => out.push_str(url),
    }
    match url.split_once('?') {
        _ if escaped_params.is_empty() => {}
        None => out.push('?'),
        Some((_, query))
            if query.is_empty() || query.ends_with('&') || query.ends_with("&amp;") => {}
        Some(_) => out.push_str("&amp;"),
    }
    out.push_str(escaped_params);
    out.push_str(fragment);
}

/// Decides each slot's grant.
struct Planner<'a> {
    rewriter: &'a Rewriter,
    mpd: &'a Mpd,
    base: &'a AbsoluteUrl,
    limits: IssueLimits,
    confinement: Option<String>,
    /// The grant carried to the URLs it covers, when there is one.
    viewer_params: Option<Carry>,
    /// BaseURL alternatives in effect below each node.
    memo: std::cell::RefCell<HashMap<usize, Vec<AbsoluteUrl>>>,
}

impl Planner<'_> {
    fn plan(&self, slot: &Slot, raw: &str) -> Plan {
        if slot.opaque {
            return Plan::Unsigned(Unsigned::Unreadable);
        }
        let value = slot.value.as_str();
        if value.is_empty() {
            return Plan::Untouched;
        }
        if let Some(scheme) = uri::scheme_of(value) {
            if scheme != "http" && scheme != "https" {
                return Plan::Untouched; // data:, urn: (resolve-to-zero), …
            }
        }
        if UrlParts::split(value).carries_signing_parameters() || value.contains("{$") {
            return Plan::Untouched;
        }
        if slot.kind.is_template() {
            return self.template(slot);
        }
        if value.contains('*') {
            return Plan::Unsigned(Unsigned::WildcardCharacter);
        }
        // The levels the value resolves at, each with its BaseURL
        // alternatives.
        let levels: Vec<Vec<AbsoluteUrl>> = match slot.kind {
            SlotKind::Location | SlotKind::PatchLocation => vec![vec![self.base.clone()]],
            SlotKind::BaseUrl | SlotKind::XlinkHref => match self.mpd.nodes[slot.node].parent {
                Some(parent) => vec![self.alternatives(parent)],
                None => vec![vec![self.base.clone()]],
            },
            _ => self
                .representations_for(slot)
                .into_iter()
                .map(|level| self.alternatives(level))
                .collect(),
        };
        let mut targets: Vec<AbsoluteUrl> = Vec::new();
        for bases in &levels {
            match self.first_signable(bases, value) {
                Ok(Some(target)) => {
                    if let Err(reason) = self.check(&target) {
                        return Plan::Unsigned(reason);
                    }
                    targets.push(target);
                }
                Ok(None) => {}
                Err(reason) => return Plan::Unsigned(reason),
            }
        }
        // Alternatives on another host than the first are not granted: one
        // grant over two hosts would be `https://*…`.
        let Some(first) = targets.first().cloned() else {
            return Plan::Untouched;
        };
        targets.retain(|t| t.same_origin(&first));
        // A `BaseURL` naming a directory is never requested itself: it only
        // resolves what lies below it, and stays as it is.
        if slot.kind == SlotKind::BaseUrl && targets.iter().all(|t| t.path().ends_with('/')) {
            return Plan::Untouched;
        }
        // A `Location` naming an MPD comes back through the function:
        // renamed when its text is written without entities (so the byte
        // offset in the text is the decoded one).
        let suffix = &self.rewriter.options().dash_suffix;
        let rename_at = (slot.kind == SlotKind::Location && !suffix.is_empty() && raw == value)
            .then(|| value[..value.find(['?', '#']).unwrap_or(value.len())].strip_suffix(".mpd"))
            .flatten()
            .map(str::len)
            .filter(|_| targets.iter().all(|t| t.path().ends_with(".mpd")));
        // A grant that travels by itself (cookies) and covers the URLs as
        // written: they stay as they are.
        if let Some(carry) = self.viewer_params.as_ref().filter(|c| !c.rename) {
            let covered = targets.iter().all(|t| {
                let url = UrlParts::split(t.as_str_without_fragment()).without_signing_parameters();
                t.same_origin(self.base) && wildcard_match(&carry.resource, &url)
            });
            if covered {
                return Plan::Propagate {
                    params: carry.params.clone(),
                    rename_at: None,
                };
            }
        }
        let urls: Vec<String> = targets
            .iter()
            .map(|t| {
                let mut url = t.as_str_without_fragment().to_owned();
                if rename_at.is_some() {
                    let path_end = url.find('?').unwrap_or(url.len());
                    url.replace_range(path_end - ".mpd".len()..path_end, suffix);
                }
                UrlParts::split(&url).without_signing_parameters()
            })
            .collect();
        if let Some(params) = self.propagated(&urls) {
            return Plan::Propagate { params, rename_at };
        }
        let mode = self.rewriter.options().mode;
        let resources: Vec<String> = urls
            .iter()
            .map(|url| {
                let origin_len = url.len() - target_path_and_query_len(url);
                let (origin, path) = url.split_at(origin_len);
                let directory = &path[..path.rfind('/').map_or(0, |i| i + 1)];
                match mode {
                    Mode::Directory => format!("{origin}{directory}*"),
                    Mode::Wildcard | Mode::Propagate
                        if slot.kind == SlotKind::SegmentUrlMedia && !url.contains('?') =>
                    {
                        match scope::digit_pattern(&path[directory.len()..]) {
                            Some(pattern) => format!("{origin}{directory}{pattern}"),
                            None => url.clone(),
                        }
                    }
                    _ => url.clone(),
                }
            })
            .collect();
        let Some(resource) = scope::merge_patterns(&resources) else {
            return Plan::Untouched;
        };
        let exact = resources.iter().all(|r| *r == resource && urls.contains(r));
        if exact {
            return Plan::Sign {
                canned: self.limits.allows_canned(),
                resource,
                rename_at,
                run: false,
                routed: rename_at.is_some(),
            };
        }
        // A pattern: a digit pattern per target, or targets merged across
        // Representations; held to the same rules as a template's. Only a
        // digit pattern or a directory (each target's own, before merging)
        // covers the next entries of a SegmentURL run.
        let run = slot.kind == SlotKind::SegmentUrlMedia
            && resources.iter().zip(&urls).all(|(r, u)| r != u);
        self.pattern_plan(resource, rename_at, run)
    }

    /// The plan for a pattern `resource` (targets merged, a template
    /// expanded): outside `directory` mode, only a pattern that cannot
    /// reach past its own file names ([`pattern_obstacle`]); in `directory`
    /// mode, the directory above its first wildcard.
    fn pattern_plan(&self, resource: String, rename_at: Option<usize>, run: bool) -> Plan {
        if self.rewriter.options().mode == Mode::Directory {
            let literal = &resource[..resource.find(['*', '?']).unwrap_or(resource.len())];
            let directory = &literal[..literal.rfind('/').map_or(0, |i| i + 1)];
            return Plan::Sign {
                resource: format!("{directory}*"),
                canned: false,
                rename_at,
                run,
                routed: false,
            };
        }
        if let Some(reason) = pattern_obstacle(&resource) {
            return Plan::Unsigned(reason);
        }
        let wild = resource.contains(['*', '?']);
        Plan::Sign {
            canned: !wild && self.limits.allows_canned(),
            resource,
            rename_at: if wild { None } else { rename_at },
            run: run && wild,
            routed: false,
        }
    }

    /// The viewer's own parameters, when `propagate` may hand them on and
    /// its policy covers every one of `urls`.
    fn propagated(&self, urls: &[String]) -> Option<Arc<str>> {
        let carry = self.viewer_params.as_ref()?;
        let (resource, params) = (carry.resource.as_str(), &carry.params);
        // Only on the MPD's own origin: a carried grant (the viewer's own
        // parameters) never goes to another host, extra hosts included.
        let own = format!("{}://{}/", self.base.scheme(), self.base.authority());
        urls.iter()
            .all(|url| url.starts_with(&own) && wildcard_match(resource, url))
            .then(|| params.clone())
    }

    /// The viewer's own parameters, when `propagate` may hand them on and
    /// its policy covers `pattern` (every URL the pattern matches): the
    /// policy is the pattern itself, or a literal prefix and one final `*`
    /// that the pattern's literal start carries.
    fn propagated_pattern(&self, pattern: &str) -> Option<Arc<str>> {
        let carry = self.viewer_params.as_ref()?;
        let (resource, params) = (carry.resource.as_str(), &carry.params);
        let own = format!("{}://{}/", self.base.scheme(), self.base.authority());
        if !pattern.starts_with(&own) {
            return None;
        }
        // The policy is the pattern itself, or a literal prefix of it and one
        // final `*` (the rule a folder grant is read by).
        let covers = resource == pattern || crate::delivery::covers_tree(resource, pattern);
        covers.then(|| params.clone())
    }

    /// A template slot: the pattern of every Representation and base it
    /// applies to.
    fn template(&self, slot: &Slot) -> Plan {
        let template = slot.value.as_str();
        let mut patterns = Vec::new();
        let mut first_origin: Option<AbsoluteUrl> = None;
        for rep in self.representations_for(slot) {
            let rep_node = (self.mpd.nodes[rep].kind == Some(Kind::Representation)).then_some(rep);
            let Some(expanded) = self.expand(template, rep_node) else {
                return Plan::Unsigned(Unsigned::Unreadable);
            };
            if expanded.contains('*') {
                return Plan::Unsigned(Unsigned::WildcardCharacter);
            }
            let wildcards = self.wildcards(slot.node, rep_node);
            let target = match self.first_signable(&self.alternatives(rep), &expanded) {
                Ok(Some(target)) => target,
                Ok(None) => continue,
                Err(reason) => return Plan::Unsigned(reason),
            };
            // One host per grant (a merge across hosts would be `https://*`).
            match &first_origin {
                Some(first) if !target.same_origin(first) => continue,
                Some(_) => {}
                None => first_origin = Some(target.clone()),
            }
            // Checked as the player will request it (a number in place
            // of each variable), then widened to the pattern.
            let probe_text: String = target
                .as_str_without_fragment()
                .chars()
                .map(|c| {
                    if matches!(c, NUMBER | TIME | SUB_NUMBER) {
                        '1'
                    } else {
                        c
                    }
                })
                .collect();
            let Ok(probe) = AbsoluteUrl::parse(&probe_text) else {
                return Plan::Unsigned(Unsigned::Unreadable);
            };
            if let Err(reason) = self.check(&probe) {
                return Plan::Unsigned(reason);
            }
            let url =
                UrlParts::split(target.as_str_without_fragment()).without_signing_parameters();
            let mut pattern = String::with_capacity(url.len());
            for c in url.chars() {
                match c {
                    NUMBER => pattern.push_str(&wildcards.0),
                    TIME => pattern.push_str(&wildcards.1),
                    SUB_NUMBER => pattern.push('*'),
                    c => pattern.push(c),
                }
            }
            patterns.push(pattern);
        }
        let Some(resource) = scope::merge_patterns(&patterns) else {
            return Plan::Untouched;
        };
        if resource.contains(['*', '?']) && !has_extension(&resource) {
            return Plan::Unsigned(Unsigned::TemplateWithoutExtension);
        }
        if let Some(params) = self.propagated_pattern(&resource) {
            return Plan::Propagate {
                params,
                rename_at: None,
            };
        }
        self.pattern_plan(resource, None, false)
    }

    /// The template with `$RepresentationID$` and `$Bandwidth$` substituted
    /// and the variable parts as stand-ins; `None` for a template that does
    /// not parse (unknown identifier, a missing Representation attribute).
    fn expand(&self, template: &str, rep: Option<usize>) -> Option<String> {
        let mut out = String::with_capacity(template.len());
        let mut rest = template;
        while let Some(at) = rest.find('$') {
            out.push_str(&rest[..at]);
            let after = &rest[at + 1..];
            let end = after.find('$')?;
            let token = &after[..end];
            rest = &after[end + 1..];
            if token.is_empty() {
                out.push('$');
                continue;
            }
            let (name, format) = match token.split_once('%') {
                Some((n, f)) => (n, Some(f)),
                None => (token, None),
            };
            let width = match format {
                None => 1,
                Some(f) => f
                    .strip_prefix('0')?
                    .strip_suffix('d')?
                    .parse::<usize>()
                    .ok()
                    .filter(|&w| w <= MAX_WIDTH)?,
            };
            match name {
                "RepresentationID" if format.is_none() => {
                    out.push_str(self.mpd.nodes[rep?].id.as_deref()?);
                }
                "Bandwidth" => {
                    let bandwidth = self.mpd.nodes[rep?].bandwidth?;
                    out.push_str(&format!("{bandwidth:0width$}"));
                }
                "Number" => out.push(NUMBER),
                "Time" => out.push(TIME),
                "SubNumber" => out.push(SUB_NUMBER),
                _ => return None,
            }
        }
        out.push_str(rest);
        Some(out)
    }

    /// What `$Number$` and `$Time$` become for the template at `template`
    /// applied to `rep`: `?`s when the presentation bounds the values to one
    /// width, `*` otherwise (always `*` live, so URLs stay stable).
    fn wildcards(&self, template: usize, rep: Option<usize>) -> (String, String) {
        let star = || ("*".to_owned(), "*".to_owned());
        if self.mpd.dynamic {
            return star();
        }
        let field = |get: &dyn Fn(&crate::dash::scan::Node) -> Option<u64>| {
            self.templates_for(template, rep)
                .into_iter()
                .find_map(|n| get(&self.mpd.nodes[n]))
        };
        let width_of = |token: &str| -> usize {
            let value = &self
                .mpd
                .slots
                .iter()
                .find(|s| s.node == template && s.kind == SlotKind::TemplateMedia)
                .map(|s| s.value.clone())
                .unwrap_or_default();
            value
                .split('$')
                .find_map(|t| {
                    t.strip_prefix(token)?
                        .strip_prefix("%0")?
                        .strip_suffix('d')?
                        .parse()
                        .ok()
                })
                .unwrap_or(1)
        };
        let timeline = self
            .templates_for(template, rep)
            .into_iter()
            .find_map(|n| self.mpd.nodes[n].timeline.clone());
        let start = field(&|n| n.start_number).unwrap_or(1);
        let count = match &timeline {
            Some(t) => t.count,
            None => {
                let seconds = self
                    .mpd
                    .enclosing(template, Kind::Period)
                    .and_then(|p| self.mpd.nodes[p].seconds)
                    .or(self.mpd.nodes[0].seconds);
                match (
                    seconds,
                    field(&|n| n.duration),
                    field(&|n| n.timescale).unwrap_or(1),
                ) {
                    (Some(s), Some(d), t) if d > 0 => {
                        Some(((s * t as f64) / d as f64).ceil() as u64)
                    }
                    _ => None,
                }
            }
        };
        let digits = |n: u64, min: usize| n.to_string().len().max(min);
        let run = |min: u64, max: u64, w: usize| {
            if w <= MAX_WIDTH && digits(min, w) == digits(max, w) {
                "?".repeat(digits(max, w))
            } else {
                "*".to_owned()
            }
        };
        let number = match count {
            Some(c) if c > 0 => run(start, start.saturating_add(c - 1), width_of("Number")),
            _ => "*".to_owned(),
        };
        let time = match timeline {
            Some(t) if t.count.is_some() && !t.times.is_empty() => {
                let (lo, hi) = (t.times.iter().min(), t.times.iter().max());
                run(*lo.unwrap_or(&0), *hi.unwrap_or(&0), width_of("Time"))
            }
            _ => "*".to_owned(),
        };
        (number, time)
    }

    /// The SegmentTemplate elements in effect for `rep`, nearest first (its
    /// own, then the AdaptationSet's, then the Period's: a Representation's
    /// `startNumber` or timeline overrides the one it inherits), `template`
    /// among them.
    fn templates_for(&self, template: usize, rep: Option<usize>) -> Vec<usize> {
        let mut out = Vec::new();
        let mut level = rep.or(self.mpd.nodes[template].parent);
        while let Some(node) = level {
            for t in self.mpd.children(node, Kind::SegmentTemplate) {
                if !out.contains(&t) {
                    out.push(t);
                }
            }
            level = self.mpd.nodes[node].parent;
        }
        if !out.contains(&template) {
            out.insert(0, template);
        }
        out
    }

    /// The levels (Representations, or the enclosing level when it has
    /// none) that a segment-information slot applies to: every
    /// Representation under the element's parent that does not set the same
    /// thing itself.
    fn representations_for(&self, slot: &Slot) -> Vec<usize> {
        let info = slot.node;
        let Some(level) = self.mpd.nodes[info].parent else {
            return vec![info];
        };
        let kind = self.mpd.nodes[info].kind;
        let reps: Vec<usize> = self
            .mpd
            .representations(level)
            .into_iter()
            .filter(|&rep| {
                rep == level
                    || !self
                        .mpd
                        .children(rep, kind.unwrap_or(Kind::Other))
                        .any(|own| own != info && self.mpd.nodes[own].sets.contains(&slot.kind))
            })
            .collect();
        if reps.is_empty() {
            vec![level]
        } else {
            reps
        }
    }

    /// The BaseURL alternatives in effect below `node` (its own applied).
    fn alternatives(&self, node: usize) -> Vec<AbsoluteUrl> {
        if let Some(found) = self.memo.borrow().get(&node) {
            return found.clone();
        }
        let inherited = match self.mpd.nodes[node].parent {
            Some(parent) => self.alternatives(parent),
            None => vec![self.base.clone()],
        };
        let own: Vec<&Slot> = self
            .mpd
            .slots
            .iter()
            .filter(|s| s.node == node && s.kind == SlotKind::BaseUrl && !s.opaque)
            .collect();
        let result =
            if own.is_empty() || !self.mpd.nodes[node].kind.is_some_and(Kind::has_base_urls) {
                inherited
            } else {
                // Every inherited alternative with every own one, in order,
                // up to a bound: the levels multiply (100 BaseURLs at four
                // levels would be 10^8), and only the first signable one is
                // ever granted, so dropping the rest only leaves URLs
                // unsigned, never more covered.
                let mut out = Vec::new();
                'bases: for base in &inherited {
                    for slot in &own {
                        if out.len() == MAX_ALTERNATIVES {
                            break 'bases;
                        }
                        if let Ok(resolved) = uri::resolve(base, &slot.value) {
                            out.push(resolved);
                        }
                    }
                }
                if out.is_empty() {
                    inherited
                } else {
                    out
                }
            };
        self.memo.borrow_mut().insert(node, result.clone());
        result
    }

    /// `value` resolved against the first of `bases` that puts it on a
    /// signable host, checked; `None` when none does. Only the first is
    /// granted: one query serves every alternative, and one grant over
    /// several bases would cover what lies between them. A player failing
    /// over to another alternative gets CloudFront's 403 there.
    fn first_signable(
        &self,
        bases: &[AbsoluteUrl],
        value: &str,
    ) -> Result<Option<AbsoluteUrl>, Unsigned> {
        for base in bases {
            let target = uri::resolve(base, value).map_err(|_| Unsigned::Unreadable)?;
            if !self.signable_host(&target) {
                continue;
            }
            if uri::climbs_above_root(base, value) {
                return Err(Unsigned::ClimbsAboveRoot);
            }
            return Ok(Some(target));
        }
        Ok(None)
    }

    fn signable_host(&self, target: &AbsoluteUrl) -> bool {
        self.rewriter.options().signable_host(self.base, target)
    }

    /// The scope rules every target must pass.
    fn check(&self, target: &AbsoluteUrl) -> Result<(), Unsigned> {
        let origin = format!("{}://{}", target.scheme(), target.authority());
        scope::check_target(&origin, target.path(), target.query())?;
        if let Some(prefix) = &self.confinement {
            if !target.same_origin(self.base) || !scope::within(prefix, target.path()) {
                return Err(Unsigned::OutsideConfinement);
            }
        }
        Ok(())
    }
}
