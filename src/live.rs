//! Live manifests: how long what the function issues must stay valid, and
//! how long a rewritten live manifest may be kept by anyone.
//!
//! A live playlist changes under the player. Two things follow for a grant
//! transformer:
//!
//! * **Issued grants must outlive the window.** A segment first listed at
//!   time `t` may be fetched until it leaves the window plus the player's
//!   live delay (its hold-back): a player that paused, or sits at the back
//!   of a DVR window, fetches it late. So the lifetime of what is issued is
//!   at least `window + hold-back` ([`LiveTiming::min_lifetime`]). This
//!   floor only ever lengthens the *configured* lifetime; the viewer's own
//!   expiry still caps everything ([`crate::grant`]), so nothing issued
//!   outlives what the viewer holds, and a viewer whose grant ends is cut
//!   off at that second.
//! * **A rewritten live manifest is stale as soon as the origin's is.**
//!   The response may be kept for at most half a reload interval (half the
//!   target duration; zero under LL-HLS, whose players reload every part),
//!   never for the lifetime of its signatures
//!   ([`LiveTiming::max_age`]).
//!
//! Reading the timing is a line scan (HLS) or a few MPD attributes (DASH)
//! with no I/O; a VOD playlist, an `EVENT` playlist that has ended and a
//! multivariant playlist have no live timing.

/// What a live manifest says about its own timing, in seconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LiveTiming {
    /// How much media the manifest lists (HLS: the `EXTINF` durations plus
    /// skipped segments; DASH: `timeShiftBufferDepth`).
    pub window: f64,
    /// How far behind the live edge a player may play (HLS `HOLD-BACK`,
    /// `PART-HOLD-BACK`, else three target durations; DASH
    /// `suggestedPresentationDelay`, else three segment durations).
    pub hold_back: f64,
    /// How often players reload (HLS: the target duration, or the part
    /// target under LL-HLS; DASH: `minimumUpdatePeriod`).
    pub reload: f64,
}

/// The longest floor [`LiveTiming::min_lifetime`] returns: the longest
/// lifetime the configuration accepts (`ttl_seconds`).
pub const MAX_LIFETIME: u64 = 7 * 24 * 3600;

impl LiveTiming {
    /// The shortest lifetime an issued grant may have: the window plus the
    /// hold-back, rounded up to whole seconds (at most [`MAX_LIFETIME`]).
    pub fn min_lifetime(&self) -> u64 {
        let seconds = self.window + self.hold_back;
        if !seconds.is_finite() || seconds <= 0.0 {
            return 0;
        }
        (seconds.ceil() as u64).min(MAX_LIFETIME)
    }

    /// The longest a rewritten response may be cached: half the reload
    /// interval, in whole seconds (0 for LL-HLS parts).
    pub fn max_age(&self) -> u64 {
        let half = self.reload / 2.0;
        if half.is_nan() || half < 1.0 {
            return 0;
        }
        if half >= MAX_LIFETIME as f64 {
            return MAX_LIFETIME;
        }
        half.floor() as u64
    }

    /// The live timing of an HLS media playlist; `None` for VOD (an
    /// `EXT-X-ENDLIST` or `PLAYLIST-TYPE:VOD`) and for a multivariant
    /// playlist (no `EXT-X-TARGETDURATION`).
    ///
    /// ```
    /// use hls_edge_signer::live::LiveTiming;
    /// let live = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\na.ts\n#EXTINF:2,\nb.ts\n";
    /// let timing = LiveTiming::of_hls(live).unwrap();
    /// assert_eq!((timing.min_lifetime(), timing.max_age()), (10, 1));
    /// assert!(LiveTiming::of_hls(&format!("{live}#EXT-X-ENDLIST\n")).is_none());
    /// ```
    pub fn of_hls(playlist: &str) -> Option<LiveTiming> {
        // A VOD playlist is known by one substring search, without reading
        // its lines (every VOD rewrite passes here).
        if ["\n#EXT-X-ENDLIST", "\n#EXT-X-PLAYLIST-TYPE:VOD"]
            .iter()
            .any(|tag| playlist.contains(tag))
        {
            return None;
        }
        let mut target = None;
        let mut part_target = None;
        let mut hold_back = None;
        let mut part_hold_back = None;
        let mut window = 0.0;
        let mut skipped = 0.0;
        for line in playlist.lines() {
            let Some(tag) = line.trim().strip_prefix("#EXT") else {
                continue;
            };
            if let Some(value) = tag.strip_prefix("INF:") {
                window += number(value.split(',').next().unwrap_or(""));
            } else if let Some(value) = tag.strip_prefix("-X-TARGETDURATION:") {
                target = Some(number(value));
            } else if tag == "-X-ENDLIST" || tag == "-X-PLAYLIST-TYPE:VOD" {
                return None;
            } else if let Some(list) = tag.strip_prefix("-X-SERVER-CONTROL:") {
                hold_back = attribute(list, "HOLD-BACK").map(number);
                part_hold_back = attribute(list, "PART-HOLD-BACK").map(number);
            } else if let Some(list) = tag.strip_prefix("-X-PART-INF:") {
                part_target = attribute(list, "PART-TARGET").map(number);
            } else if let Some(list) = tag.strip_prefix("-X-SKIP:") {
                skipped += attribute(list, "SKIPPED-SEGMENTS").map_or(0.0, number);
            }
        }
        let target = target?;
        let hold_back = hold_back.unwrap_or(3.0 * target);
        Some(LiveTiming {
            window: window + skipped * target,
            hold_back: part_hold_back.map_or(hold_back, |p| p.max(hold_back)),
            reload: part_target.unwrap_or(target),
        })
    }

    /// The live timing of a scanned MPD; `None` unless `type="dynamic"`.
    /// Without `timeShiftBufferDepth` the window is taken as empty (the
    /// configured lifetime then decides); without
    /// `suggestedPresentationDelay` the hold-back is three
    /// `maxSegmentDuration`s; without `minimumUpdatePeriod` the MPD is not
    /// reloaded, so it may be kept as long as its signatures.
    pub fn of_mpd(mpd: &crate::dash::scan::Mpd) -> Option<LiveTiming> {
        if !mpd.dynamic {
            return None;
        }
        let segment = mpd.max_segment_duration.map_or(0.0, clamp);
        Some(LiveTiming {
            window: mpd.time_shift_buffer_depth.map_or(0.0, clamp),
            hold_back: mpd
                .suggested_presentation_delay
                .map_or(3.0 * segment, clamp),
            reload: mpd.minimum_update_period.map_or(f64::INFINITY, clamp),
        })
    }
}

/// A non-negative finite decimal, else 0 (a malformed duration must not
/// make a floor out of nothing; the scanner reports real errors).
fn number(text: &str) -> f64 {
    text.trim()
        .trim_matches('"')
        .parse::<f64>()
        .map_or(0.0, clamp)
}

/// `seconds` if finite and non-negative (at most [`MAX_LIFETIME`]), else 0.
fn clamp(seconds: f64) -> f64 {
    if seconds.is_finite() && seconds >= 0.0 {
        seconds.min(MAX_LIFETIME as f64)
    } else {
        0.0
    }
}

/// The value of `name` in an attribute list (`A=1,B="x"`), unquoted.
fn attribute<'a>(list: &'a str, name: &str) -> Option<&'a str> {
    let mut rest = list;
    while !rest.is_empty() {
        let (key, after) = rest.split_once('=')?;
        let (value, next) = if let Some(quoted) = after.strip_prefix('"') {
            let end = quoted.find('"')?;
            (&quoted[..end], quoted[end + 1..].trim_start_matches(','))
        } else {
            match after.split_once(',') {
                Some((value, next)) => (value, next),
                None => (after, ""),
            }
        };
        if key.trim() == name {
            return Some(value);
        }
        rest = next;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live(lines: &[&str]) -> Option<LiveTiming> {
        LiveTiming::of_hls(&format!("#EXTM3U\n{}\n", lines.join("\n")))
    }

    #[test]
    fn a_sliding_window_needs_window_plus_three_targets() {
        let timing = live(&[
            "#EXT-X-TARGETDURATION:6",
            "#EXT-X-MEDIA-SEQUENCE:100",
            "#EXTINF:6.006,",
            "s100.ts",
            "#EXTINF:5.994,",
            "s101.ts",
            "#EXTINF:6.000,",
            "s102.ts",
        ])
        .unwrap();
        assert_eq!(timing.min_lifetime(), 18 + 18);
        assert_eq!(timing.max_age(), 3);
    }

    #[test]
    fn ll_hls_uses_part_hold_back_and_reloads_every_part() {
        let timing = live(&[
            "#EXT-X-TARGETDURATION:1",
            "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.0,CAN-SKIP-UNTIL=6.0",
            "#EXT-X-PART-INF:PART-TARGET=0.33334",
            "#EXTINF:1.0,",
            "s1.m4s",
            "#EXT-X-PART:DURATION=0.33333,URI=\"s2.0.m4s\",INDEPENDENT=YES",
            "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"s2.1.m4s\"",
        ])
        .unwrap();
        // Hold-back is the longer of PART-HOLD-BACK and the default 3 × TD.
        assert_eq!(timing.hold_back, 3.0);
        assert_eq!(timing.max_age(), 0);
        assert_eq!(timing.min_lifetime(), 4);
    }

    #[test]
    fn a_delta_update_counts_its_skipped_segments() {
        let timing = live(&[
            "#EXT-X-TARGETDURATION:2",
            "#EXT-X-SERVER-CONTROL:CAN-SKIP-UNTIL=12,HOLD-BACK=6",
            "#EXT-X-SKIP:SKIPPED-SEGMENTS=10",
            "#EXTINF:2,",
            "s10.ts",
        ])
        .unwrap();
        assert_eq!(timing.window, 22.0);
        assert_eq!(timing.min_lifetime(), 28);
    }

    #[test]
    fn vod_and_multivariant_playlists_are_not_live() {
        assert!(live(&[
            "#EXT-X-TARGETDURATION:2",
            "#EXTINF:2,",
            "a.ts",
            "#EXT-X-ENDLIST"
        ])
        .is_none());
        assert!(live(&["#EXT-X-PLAYLIST-TYPE:VOD", "#EXT-X-TARGETDURATION:2"]).is_none());
        // Indented or CRLF tags, as the scanner reads them.
        assert!(live(&["#EXT-X-TARGETDURATION:2", "  #EXT-X-ENDLIST\r"]).is_none());
        assert!(live(&["#EXT-X-STREAM-INF:BANDWIDTH=1", "a.m3u8"]).is_none());
        // An EVENT playlist is live until it ends.
        assert!(live(&["#EXT-X-PLAYLIST-TYPE:EVENT", "#EXT-X-TARGETDURATION:2"]).is_some());
    }

    #[test]
    fn hostile_durations_make_no_floor_out_of_nothing() {
        let timing = live(&[
            "#EXT-X-TARGETDURATION:1e400",
            "#EXTINF:-5,",
            "a.ts",
            "#EXTINF:NaN,",
            "b.ts",
            "#EXTINF:99999999999999,",
            "c.ts",
        ])
        .unwrap();
        assert!(timing.min_lifetime() <= MAX_LIFETIME);
        assert_eq!(
            live(&["#EXT-X-TARGETDURATION:x", "#EXTINF:x,", "a.ts"])
                .unwrap()
                .min_lifetime(),
            0
        );
    }

    #[test]
    fn a_dynamic_mpd_needs_its_time_shift_buffer_plus_its_delay() {
        let mpd = |attrs: &str| {
            let text =
                format!(r#"<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" {attrs}><Period/></MPD>"#);
            LiveTiming::of_mpd(&crate::dash::scan::scan(&text).unwrap())
        };
        let timing = mpd(r#"type="dynamic" timeShiftBufferDepth="PT30S" suggestedPresentationDelay="PT6S" minimumUpdatePeriod="PT2S""#).unwrap();
        assert_eq!((timing.min_lifetime(), timing.max_age()), (36, 1));
        let timing = mpd(r#"type="dynamic" maxSegmentDuration="PT4S""#).unwrap();
        assert_eq!(timing.min_lifetime(), 12);
        // Never reloaded: the signatures' own lifetime applies.
        assert_eq!(timing.max_age(), MAX_LIFETIME);
        assert!(mpd(r#"type="static" timeShiftBufferDepth="PT30S""#).is_none());
    }

    #[test]
    fn attributes_are_read_by_name_not_by_suffix() {
        assert_eq!(
            attribute("PART-HOLD-BACK=1.5,HOLD-BACK=9", "HOLD-BACK"),
            Some("9")
        );
        assert_eq!(attribute("X=\"a,b\",HOLD-BACK=4", "HOLD-BACK"), Some("4"));
        assert_eq!(attribute("PART-HOLD-BACK=1.5", "HOLD-BACK"), None);
    }
}
