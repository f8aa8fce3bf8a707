//! Carries out a [`delivery::Plan`] for one manifest: the rewrite, plus the
//! cookies to set or the declarations the player needs (see
//! [`crate::delivery`] for the rules and their security reasoning).

use crate::delivery::{self, Fallback, Plan};
use crate::grant::IssueLimits;
use crate::hls::rewrite::{RewriteError, Rewriter, Rewritten, Viewer};
use crate::manifest::ManifestFormat;
use crate::signed_url::{CookieAttributes, SignedCookies};

/// A manifest ready to send.
#[derive(Debug)]
pub struct Delivered {
    pub rewritten: Rewritten,
    /// `Set-Cookie` values (the `cookies` delivery).
    pub set_cookies: Vec<String>,
    /// The delivery used, as logged (`rewrite`, `cookies`, `define`, `urlquery`).
    pub name: &'static str,
    /// Why the delivery asked for was not used.
    pub fallback: Option<Fallback>,
}

/// The cookie attributes a deployment configures (`Path` is the tree's).
pub struct CookieSettings<'a> {
    pub domain: Option<&'a str>,
    pub same_site: &'a str,
}

/// One manifest through its delivery.
pub struct Job<'a> {
    pub rewriter: &'a Rewriter,
    pub format: ManifestFormat,
    pub body: &'a str,
    pub viewer: Viewer<'a>,
    pub now: u64,
    /// `hls-delivery=…` as the viewer's URL carried it: kept on the URIs
    /// of `query` delivery so child playlists come back the same way.
    pub requested_pair: Option<&'a str>,
    pub cookies: CookieSettings<'a>,
}

impl Job<'_> {
    pub fn run(&self, plan: Plan) -> Result<Delivered, RewriteError> {
        if let Some(reason) = delivery::refusal(self.format, self.body) {
            return Err(RewriteError::Unsafe(reason));
        }
        match plan {
            Plan::Rewrite { fallback } => self.rewrite(fallback),
            Plan::ViewerCookies => {
                if self.pinning_differs()? {
                    return self.rewrite(Some(Fallback::PinningDiffers));
                }
                let policy = self.viewer.grant.policy();
                let carry = delivery::cookie_carry(policy.resource(), policy.ip_range());
                let rewritten = self.rewrite_carrying(Some(carry))?;
                Ok(self.delivered(rewritten, Vec::new(), "cookies"))
            }
            Plan::IssueCookies { tree } => self.issue_cookies(&tree),
            Plan::Query => self.query(),
        }
    }

    fn rewrite(&self, fallback: Option<Fallback>) -> Result<Delivered, RewriteError> {
        let rewritten = self.rewrite_carrying(None)?;
        let mut delivered = self.delivered(rewritten, Vec::new(), "rewrite");
        delivered.fallback = fallback;
        Ok(delivered)
    }

    fn rewrite_carrying(
        &self,
        carry: Option<crate::hls::rewrite::Carry>,
    ) -> Result<Rewritten, RewriteError> {
        match self.format {
            ManifestFormat::Hls => {
                self.rewriter
                    .rewrite_carrying(self.body, &self.viewer, self.now, carry)
            }
            ManifestFormat::Dash => {
                self.rewriter
                    .rewrite_mpd_carrying(self.body, &self.viewer, self.now, carry)
            }
        }
    }

    /// The place and time limits of anything issued for this request (the
    /// rewriter's own). The lifetime a live window needs is the rewrite's
    /// to decide ([`Rewritten::expires`]), from the manifest it reads.
    fn limits(&self) -> Result<IssueLimits, RewriteError> {
        Ok(self.rewriter.issue_limits(None, &self.viewer, self.now)?)
    }

    /// Configured pinning that the viewer's own grant does not carry: its
    /// grant cannot travel as it is (it would bypass the pinning).
    fn pinning_differs(&self) -> Result<bool, RewriteError> {
        Ok(self.limits()?.ip_range != self.viewer.grant.policy().ip_range())
    }

    fn delivered(
        &self,
        rewritten: Rewritten,
        set_cookies: Vec<String>,
        name: &'static str,
    ) -> Delivered {
        Delivered {
            rewritten,
            set_cookies,
            name,
            fallback: None,
        }
    }

    /// Cookies over the tree, under the request's limits; URIs they cover
    /// stay as they are, the rest are rewritten.
    fn issue_cookies(&self, tree: &str) -> Result<Delivered, RewriteError> {
        let limits = self.limits()?;
        let resource = format!("{tree}*");
        let carry = delivery::cookie_carry(&resource, limits.ip_range);
        let mut rewritten = self.rewrite_carrying(Some(carry))?;
        // The cookies last as the manifest's own grants do (a live window's
        // included), from the one reading of the manifest the rewrite made.
        let policy = IssueLimits {
            expires: rewritten.expires,
            ..limits
        }
        .policy(&resource);
        let (params, hit) =
            self.rewriter
                .cache()
                .get_or_sign(self.rewriter.signer(), &policy, false)?;
        let attributes = CookieAttributes {
            domain: self.cookies.domain.map(str::to_owned),
            path: delivery::tree_path(tree).unwrap_or_else(|| "/".to_owned()),
            secure: true,
            http_only: true,
            same_site: Some(self.cookies.same_site.to_owned()),
        };
        if hit {
            rewritten.stats.cache_hits += 1;
        } else {
            rewritten.stats.signatures += 1;
        }
        Ok(self.delivered(
            rewritten,
            SignedCookies::from_query(&params).set_cookie_headers(&attributes),
            "cookies",
        ))
    }

    /// The viewer's query carried by the player; falls back to a rewrite
    /// when the playlist cannot take the declarations or (DASH) when some
    /// URL is not covered by the viewer's grant.
    fn query(&self) -> Result<Delivered, RewriteError> {
        let name = delivery::Delivery::Query.name_for(self.format);
        if self.pinning_differs()? {
            return self.rewrite(Some(Fallback::PinningDiffers));
        }
        match self.format {
            ManifestFormat::Hls => {
                if delivery::steers(self.body) {
                    return self.rewrite(Some(Fallback::ContentSteering));
                }
                let names = delivery::grant_variables(self.viewer.grant);
                let constants = delivery::grant_constants(self.viewer.grant);
                let params = delivery::placeholders(&names, &constants, self.requested_pair);
                let carry = delivery::query_carry(self.viewer.grant, params);
                let mut rewritten = self.rewrite_carrying(Some(carry))?;
                // Every child playlist must come back through the function:
                // one the player loads directly could import the variables.
                if rewritten.stats.direct_playlists > 0 {
                    return self.rewrite(Some(Fallback::ChildPlaylistDirect));
                }
                // A URI the viewer's policy does not cover was signed for this
                // viewer: the manifest would no longer be the same bytes for
                // every viewer (nor safe to share between them).
                let stats = rewritten.stats;
                if stats.signed != stats.propagated {
                    return self.rewrite(Some(Fallback::NotAllCovered));
                }
                // `refusal` already turned away a playlist that defines these
                // names, so this cannot fail; if it did, nothing is served.
                rewritten.body = delivery::declare_query_params(&rewritten.body, &names)
                    .map_err(|_| RewriteError::Unsafe("defines a signing parameter"))?;
                Ok(self.delivered(rewritten, Vec::new(), name))
            }
            ManifestFormat::Dash => {
                if let Some(obstacle) = delivery::url_query_obstacle(self.body, self.viewer.url) {
                    return self.rewrite(Some(obstacle));
                }
                let carry = delivery::query_carry(self.viewer.grant, "".into());
                let mut rewritten = self.rewrite_carrying(Some(carry))?;
                let stats = rewritten.stats;
                if stats.propagated == 0 || stats.signed != stats.propagated || stats.unsigned > 0 {
                    return self.rewrite(Some(Fallback::NotAllCovered));
                }
                match delivery::add_url_query_info(&rewritten.body) {
                    Some(body) => rewritten.body = body,
                    None => return self.rewrite(Some(Fallback::NotAllCovered)),
                }
                Ok(self.delivered(rewritten, Vec::new(), name))
            }
        }
    }
}
