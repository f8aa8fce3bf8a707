//! The limits every issued grant shares: when it expires, from when it is
//! valid, and from which addresses — all derived from the viewer's verified
//! grant and never wider (DESIGN §5.2, §5.3).
//!
//! * **Time.** An issued grant expires at `min(now + ttl, G.expires)`, the
//!   first rounded up to a bucket boundary so every request inside a bucket
//!   produces identical output (a live playlist keeps each segment's URI
//!   stable across reloads, RFC 8216 §6.3.4; a warm instance signs each
//!   resource once per bucket). The viewer's expiry is a hard cap: bucketing
//!   never moves past it. When the viewer's grant has a not-before time, the
//!   issued ones carry it too, so nothing issued is valid before G is.
//!   Two refinements, neither past G: a live manifest's grants last at
//!   least its window plus its hold-back ([`LimitOptions::lasting_at_least`]),
//!   and a manifest that comes back through the function (a renamed child
//!   playlist, an MPD `Location`) lasts as G does
//!   ([`IssueLimits::routed_expires`]).
//! * **Place.** The viewer's IP range is always inherited. Pinning narrows it
//!   further (to the client's IPv4 address, or to a configured range that
//!   nests inside the viewer's); it never widens it. CloudFront policies
//!   cannot express IPv6, so an IPv6 client under client-address pinning is
//!   an explicit choice ([`Ipv6Viewers`]): refused by default, or served
//!   unpinned when the operator says so — never silently.

use std::net::IpAddr;

use crate::policy::{Condition, Ipv4Cidr, Policy};
use crate::verify::VerifiedGrant;

/// When the signatures we issue expire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expiry {
    /// `now + ttl`, rounded up to a multiple of `bucket` seconds (0 or 1 = no rounding).
    Ttl { ttl: u64, bucket: u64 },
    /// A fixed epoch second.
    At(u64),
}

/// How to restrict the issued signatures by viewer address, beyond the
/// viewer's own restriction (which is always inherited).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum IpPinning {
    /// Only what the viewer's policy already says.
    #[default]
    Inherit,
    /// Pin to the requesting client's IPv4 address (`/32`).
    ClientAddress,
    /// Pin to a fixed range.
    Range(Ipv4Cidr),
}

/// What client-address pinning does for a viewer whose address is IPv6
/// (CloudFront policies accept IPv4 ranges only).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Ipv6Viewers {
    /// Refuse the request (403): pinning was asked for and cannot be given.
    #[default]
    Refuse,
    /// Issue grants without an address condition (the viewer's own range,
    /// if any, still applies); the log record says `ip_pinned: false`.
    Unpinned,
}

impl Ipv6Viewers {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Refuse => "refuse",
            Self::Unpinned => "unpinned",
        }
    }
}

/// Why no grant may be issued.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum GrantError {
    #[error("the viewer's grant expired at {expires} (now {now})")]
    ViewerExpired { expires: u64, now: u64 },
    #[error("the fixed expiry {expires} is not in the future (now {now})")]
    ExpiryInPast { expires: u64, now: u64 },
    #[error("client-address pinning is on and the viewer's address is IPv6, which CloudFront policies cannot express (set ipv6_viewers to `unpinned` to serve such viewers without pinning)")]
    Ipv6Viewer,
    #[error("client-address pinning is on and the viewer's address is unknown")]
    ClientAddressUnknown,
}

/// How issued grants are limited, as configured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LimitOptions {
    pub expiry: Expiry,
    pub ip_pinning: IpPinning,
    pub ipv6_viewers: Ipv6Viewers,
}

impl LimitOptions {
    /// These options with a configured lifetime of at least `seconds`
    /// (rounded up to the bucket, at most [`crate::live::MAX_LIFETIME`]):
    /// what a live manifest needs so that a segment stays valid while it is
    /// listed plus the player's delay ([`crate::live`]). A fixed expiry is
    /// the operator's explicit choice and stays as it is. The viewer's own
    /// expiry still caps the result in [`IssueLimits::compute`].
    pub fn lasting_at_least(self, seconds: u64) -> Self {
        let expiry = match self.expiry {
            Expiry::Ttl { ttl, bucket } => Expiry::Ttl {
                ttl: ttl.max(round_up(seconds, bucket).min(crate::live::MAX_LIFETIME)),
                bucket,
            },
            fixed => fixed,
        };
        Self { expiry, ..self }
    }
}

/// The limits every signature issued for one request shares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IssueLimits {
    pub expires: u64,
    /// When grants for manifests that come back through the function (a
    /// renamed child playlist, an MPD `Location`) expire: with the viewer's
    /// own grant (or a fixed configured expiry, if sooner). Each such
    /// request is verified again and everything it leads to is capped anew,
    /// so this gives nothing the viewer's grant does not; a shorter lifetime
    /// would cut a live viewer off after `ttl` while its grant still runs,
    /// since players reload a child playlist by the URL the parent gave.
    pub routed_expires: u64,
    /// The viewer's own not-before time, carried over.
    pub not_before: Option<u64>,
    pub ip_range: Option<Ipv4Cidr>,
    /// Whether pinning to the client address was asked for and applied.
    pub pinned: bool,
}

impl IssueLimits {
    /// Computes the limits for a request at `now` from the viewer's verified
    /// grant: its expiry caps ours, its not-before and IP range are kept.
    pub fn compute(
        options: LimitOptions,
        viewer: &VerifiedGrant,
        client_ip: Option<IpAddr>,
        now: u64,
    ) -> Result<Self, GrantError> {
        let ours = match options.expiry {
            Expiry::Ttl { ttl, bucket } => round_up(now.saturating_add(ttl.max(1)), bucket),
            Expiry::At(expires) if expires > now => expires,
            Expiry::At(expires) => return Err(GrantError::ExpiryInPast { expires, now }),
        };
        let cap = viewer.policy().expires();
        if cap <= now {
            return Err(GrantError::ViewerExpired { expires: cap, now });
        }
        let expires = ours.min(cap);
        let routed_expires = match options.expiry {
            Expiry::Ttl { .. } => cap,
            Expiry::At(_) => expires,
        };
        let inherited = viewer.policy().ip_range();
        let (pin, pinned) = match (options.ip_pinning, client_ip) {
            (IpPinning::Inherit, _) => (None, false),
            (IpPinning::Range(range), _) => (Some(range), true),
            (IpPinning::ClientAddress, Some(IpAddr::V4(v4))) => (Some(Ipv4Cidr::host(v4)), true),
            (IpPinning::ClientAddress, Some(IpAddr::V6(v6))) => match v6.to_ipv4_mapped() {
                Some(v4) => (Some(Ipv4Cidr::host(v4)), true),
                None => match options.ipv6_viewers {
                    Ipv6Viewers::Refuse => return Err(GrantError::Ipv6Viewer),
                    Ipv6Viewers::Unpinned => (None, false),
                },
            },
            (IpPinning::ClientAddress, None) => return Err(GrantError::ClientAddressUnknown),
        };
        // The narrower of the two when both exist and nest; the viewer's own
        // range otherwise, so pinning can never widen what the viewer holds.
        let ip_range = match (inherited, pin) {
            (Some(viewer_range), Some(pin)) if viewer_range.contains_range(&pin) => Some(pin),
            (Some(viewer_range), _) => Some(viewer_range),
            (None, pin) => pin,
        };
        Ok(Self {
            expires,
            routed_expires,
            not_before: viewer.policy().not_before(),
            ip_range,
            pinned,
        })
    }

    /// These limits for a manifest routed back through the function (see
    /// [`IssueLimits::routed_expires`]).
    pub fn routed(&self) -> IssueLimits {
        IssueLimits {
            expires: self.routed_expires,
            ..*self
        }
    }

    /// Whether a grant under these limits can use the canned form (nothing
    /// but an expiry).
    pub fn allows_canned(&self) -> bool {
        self.ip_range.is_none() && self.not_before.is_none()
    }

    /// A custom policy for `resource` under these limits (conditions in
    /// botocore's order).
    pub fn policy(&self, resource: &str) -> Policy {
        let mut policy = Policy::custom(resource, self.expires);
        if let Some(range) = self.ip_range {
            policy = policy.with(Condition::IpAddress(range));
        }
        if let Some(not_before) = self.not_before {
            policy = policy.with(Condition::DateGreaterThan(not_before));
        }
        policy
    }
}

/// Rounds `t` up to the next multiple of `bucket`.
pub fn round_up(t: u64, bucket: u64) -> u64 {
    if bucket <= 1 {
        return t;
    }
    t.div_ceil(bucket).saturating_mul(bucket)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{generate_pem, PrivateKey};
    use crate::signed_url::UrlSigner;
    use crate::verify::{verify_request, TrustedKeys};
    use crate::{HashAlgorithm, KeyAlgorithm, RsaBackend};

    #[test]
    fn rounding() {
        assert_eq!(round_up(101, 60), 120);
        assert_eq!(round_up(120, 60), 120);
        assert_eq!(round_up(101, 0), 101);
        assert_eq!(round_up(u64::MAX, 60), u64::MAX);
    }

    /// A verified grant for `policy` on `https://h/v/i._m3u8`.
    fn viewer(policy: Policy, at: u64, ip: Option<IpAddr>) -> VerifiedGrant {
        let (private, public) = generate_pem(KeyAlgorithm::EcdsaP256).unwrap();
        let key = PrivateKey::from_pem(&private).unwrap();
        let signer = UrlSigner::new(
            key.signer(RsaBackend::AwsLc).unwrap(),
            "K",
            HashAlgorithm::Sha256,
        )
        .unwrap();
        let mut trusted = TrustedKeys::new();
        trusted.insert("K", crate::PublicKey::from_pem(&public).unwrap());
        let url = signer.sign_url("https://h/v/i._m3u8", &policy).unwrap();
        verify_request(&url, &[], &trusted, at, ip).unwrap()
    }

    fn options(expiry: Expiry, ip_pinning: IpPinning) -> LimitOptions {
        LimitOptions {
            expiry,
            ip_pinning,
            ipv6_viewers: Ipv6Viewers::Refuse,
        }
    }

    #[test]
    fn expiry_is_capped_by_the_viewer() {
        let ttl = Expiry::Ttl {
            ttl: 300,
            bucket: 60,
        };
        let long = viewer(Policy::canned("https://h/v/i._m3u8", 5000), 1000, None);
        let limits = IssueLimits::compute(options(ttl, IpPinning::Inherit), &long, None, 1000);
        assert_eq!(limits.unwrap().expires, 1320);
        let short = viewer(Policy::canned("https://h/v/i._m3u8", 1200), 1000, None);
        let capped = IssueLimits::compute(options(ttl, IpPinning::Inherit), &short, None, 1000);
        let capped = capped.unwrap();
        assert_eq!(capped.expires, 1200);
        // Manifests routed back through the function last as the viewer's grant.
        let routed = IssueLimits::compute(options(ttl, IpPinning::Inherit), &long, None, 1000);
        assert_eq!(routed.unwrap().routed().expires, 5000);
        assert_eq!(capped.routed().expires, 1200);
        let fixed = IssueLimits::compute(
            options(Expiry::At(2000), IpPinning::Inherit),
            &long,
            None,
            1000,
        );
        assert_eq!(fixed.unwrap().routed().expires, 2000);
        assert_eq!(
            IssueLimits::compute(options(ttl, IpPinning::Inherit), &short, None, 1200),
            Err(GrantError::ViewerExpired {
                expires: 1200,
                now: 1200
            })
        );
        assert_eq!(
            IssueLimits::compute(options(Expiry::At(5), IpPinning::Inherit), &long, None, 5),
            Err(GrantError::ExpiryInPast { expires: 5, now: 5 })
        );
    }

    #[test]
    fn a_live_floor_lengthens_the_configured_lifetime_but_never_the_viewers() {
        let ttl = Expiry::Ttl {
            ttl: 60,
            bucket: 30,
        };
        let inherit = options(ttl, IpPinning::Inherit);
        let long = viewer(Policy::canned("https://h/v/i._m3u8", 5000), 1000, None);
        let at = |o: LimitOptions, g: &VerifiedGrant| IssueLimits::compute(o, g, None, 1000);
        assert_eq!(at(inherit, &long).unwrap().expires, 1080);
        // A 100 s window + hold-back: at least 100 s, in whole buckets.
        assert_eq!(
            at(inherit.lasting_at_least(100), &long).unwrap().expires,
            1140
        );
        // Shorter than the configured lifetime: no change.
        assert_eq!(
            at(inherit.lasting_at_least(10), &long).unwrap().expires,
            1080
        );
        // The viewer's own expiry caps the floor.
        let short = viewer(Policy::canned("https://h/v/i._m3u8", 1100), 1000, None);
        assert_eq!(
            at(inherit.lasting_at_least(100), &short).unwrap().expires,
            1100
        );
        // A hostile window cannot go past the longest configurable lifetime.
        let floor = inherit.lasting_at_least(u64::MAX);
        assert_eq!(
            floor.expiry,
            Expiry::Ttl {
                ttl: crate::live::MAX_LIFETIME,
                bucket: 30
            }
        );
        // A fixed expiry is left alone.
        let fixed = options(Expiry::At(1234), IpPinning::Inherit);
        assert_eq!(fixed.lasting_at_least(100_000), fixed);
    }

    #[test]
    fn not_before_is_carried_over() {
        let policy = Policy::custom("https://h/v/*", 5000).with(Condition::DateGreaterThan(900));
        let g = viewer(policy, 1000, None);
        let ttl = Expiry::Ttl { ttl: 60, bucket: 1 };
        let limits =
            IssueLimits::compute(options(ttl, IpPinning::Inherit), &g, None, 1000).unwrap();
        assert_eq!(limits.not_before, Some(900));
        assert!(!limits.allows_canned());
        assert_eq!(limits.policy("x").not_before(), Some(900));
    }

    #[test]
    fn ip_pinning_never_widens() {
        let ttl = Expiry::Ttl { ttl: 60, bucket: 1 };
        let range: Ipv4Cidr = "10.0.0.0/8".parse().unwrap();
        let policy = Policy::custom("*", 5000).with(Condition::IpAddress(range));
        let client: IpAddr = "10.1.2.3".parse().unwrap();
        let v = viewer(policy, 0, Some(client));
        let limits = |pin, ip| IssueLimits::compute(options(ttl, pin), &v, Some(ip), 0).unwrap();
        assert_eq!(limits(IpPinning::Inherit, client).ip_range, Some(range));
        assert_eq!(
            limits(IpPinning::ClientAddress, client).ip_range,
            Some("10.1.2.3/32".parse().unwrap())
        );
        let wide = IpPinning::Range("0.0.0.0/0".parse().unwrap());
        assert_eq!(limits(wide, client).ip_range, Some(range));
    }

    #[test]
    fn ipv6_viewers_are_an_explicit_choice() {
        let ttl = Expiry::Ttl { ttl: 60, bucket: 1 };
        let g = viewer(Policy::canned("https://h/v/i._m3u8", 5000), 0, None);
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        let mut o = options(ttl, IpPinning::ClientAddress);
        assert_eq!(
            IssueLimits::compute(o, &g, Some(v6), 0),
            Err(GrantError::Ipv6Viewer)
        );
        o.ipv6_viewers = Ipv6Viewers::Unpinned;
        let limits = IssueLimits::compute(o, &g, Some(v6), 0).unwrap();
        assert_eq!((limits.ip_range, limits.pinned), (None, false));
        // An IPv4-mapped address is an IPv4 viewer.
        let mapped: IpAddr = "::ffff:192.0.2.9".parse().unwrap();
        let limits = IssueLimits::compute(o, &g, Some(mapped), 0).unwrap();
        assert_eq!(limits.ip_range, Some("192.0.2.9/32".parse().unwrap()));
        assert_eq!(
            IssueLimits::compute(o, &g, None, 0),
            Err(GrantError::ClientAddressUnknown)
        );
    }
}
