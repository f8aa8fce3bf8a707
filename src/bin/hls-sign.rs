//! `hls-sign`: CloudFront signed URLs and cookies from the command line, and
//! the answer to "why does CloudFront give me a 403?".
//!
//! A thin adapter: argument parsing and file reading here, everything else in
//! the library. Errors go to stderr with exit status 2; a rejected `verify`
//! exits with 1.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::{Args, Parser, Subcommand, ValueEnum};
use hls_edge_signer::config::{Config, ConfigBuilder, RawConfig};
use hls_edge_signer::delivery;
use hls_edge_signer::edge::deliver::{CookieSettings, Job};
use hls_edge_signer::edge::lambda::handle_event;
use hls_edge_signer::edge::Handler;
use hls_edge_signer::grant::Expiry;
use hls_edge_signer::hls::rewrite::{Mode, Rewriter, Viewer};
use hls_edge_signer::keys::generate_pem;
use hls_edge_signer::manifest::{ManifestFormat, Routes};
use hls_edge_signer::signed_url::{CookieAttributes, UrlParts};
use hls_edge_signer::verify::{parse_cookie_header, GrantSource};
use hls_edge_signer::{
    verify_request, Condition, HashAlgorithm, Ipv4Cidr, KeyAlgorithm, Policy, PrivateKey,
    PublicKey, RsaBackend, TrustedKeys, UrlSigner,
};

#[derive(Parser)]
#[command(name = "hls-sign", version, about = "CloudFront signed URLs and cookies for HLS", long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print a signed URL (canned policy unless --resource, --not-before or --ip is given).
    Url {
        /// The URL to sign, e.g. https://d111111abcdef8.cloudfront.net/videos/index._m3u8
        url: String,
        #[command(flatten)]
        signing: SigningArgs,
        /// Policy resource pattern (`*` any run, `?` one character); defaults to the URL.
        #[arg(long)]
        resource: Option<String>,
    },
    /// Print signed cookies for a resource pattern.
    Cookies {
        /// Policy resource pattern, e.g. https://d111111abcdef8.cloudfront.net/videos/*
        #[arg(long)]
        resource: String,
        #[command(flatten)]
        signing: SigningArgs,
        /// Print the cookie values as a JSON object instead of Set-Cookie lines.
        #[arg(long)]
        json: bool,
        /// Domain attribute of the Set-Cookie lines.
        #[arg(long)]
        domain: Option<String>,
        /// Path attribute of the Set-Cookie lines.
        #[arg(long, default_value = "/")]
        path: String,
        /// SameSite attribute (Strict, Lax or None).
        #[arg(long)]
        same_site: Option<String>,
        /// Leave out the Secure attribute.
        #[arg(long)]
        no_secure: bool,
        /// Leave out the HttpOnly attribute.
        #[arg(long)]
        no_http_only: bool,
    },
    /// Explain whether CloudFront would accept a signed URL (exit 0) or reject it (exit 1).
    Verify {
        /// The URL the viewer requested, with its query string.
        url: String,
        /// A trusted public key as KEY_PAIR_ID=PEM_FILE (repeat for a key group).
        #[arg(long = "public-key", value_name = "ID=FILE", required = true)]
        public_keys: Vec<String>,
        /// The time to check at, in epoch seconds (default: now).
        #[arg(long)]
        now: Option<u64>,
        /// The viewer's IP address.
        #[arg(long)]
        ip: Option<IpAddr>,
        /// A cookie as NAME=VALUE, or a whole Cookie header (repeatable).
        #[arg(long = "cookie", value_name = "COOKIE")]
        cookies: Vec<String>,
    },
    /// Rewrite a playlist: every URI the viewer will request becomes a signed URL.
    ///
    /// The grant in --url is verified first (with the key's own public key
    /// and any --public-key); without one, the key holder grants itself
    /// --url until the issued expiry. Settings not given here come from the
    /// same configuration layers as the function (compiled-in, --config,
    /// HLS_* variables).
    Manifest {
        /// The URL the player fetched the playlist from, with its query
        /// (e.g. https://d111111abcdef8.cloudfront.net/videos/index._m3u8?Policy=...).
        #[arg(long)]
        url: String,
        #[command(flatten)]
        key: KeyArgs,
        /// Expiry as an epoch second (default: --ttl, else the configured TTL).
        #[arg(long, value_name = "EPOCH", conflicts_with = "ttl")]
        expires: Option<u64>,
        /// Lifetime of the issued signatures in seconds (never past the
        /// viewer's own grant).
        #[arg(long, value_name = "SECS")]
        ttl: Option<u64>,
        /// How URIs are signed (default: wildcard).
        #[arg(long, value_enum)]
        mode: Option<Mode>,
        /// Pin the issued signatures to an IPv4 address or CIDR range.
        #[arg(long, value_name = "CIDR")]
        ip: Option<String>,
        /// Routing suffix that replaces a child playlist's `.m3u8` (empty: no rename).
        #[arg(long)]
        suffix: Option<String>,
        /// Round --ttl expiries up to a multiple of this many seconds, so
        /// output is identical within a bucket (default 60).
        #[arg(long, value_name = "SECS")]
        bucket: Option<u64>,
        /// Another host whose URIs are signed too (repeatable).
        #[arg(long = "extra-host", value_name = "HOST")]
        extra_hosts: Vec<String>,
        /// Keep every issued Resource under the first N segments of --url's path.
        #[arg(long, value_name = "N")]
        confine_segments: Option<usize>,
        /// The manifest's format (auto: by --url's suffix, else DASH when the
        /// text is an XML document with an MPD root, else HLS).
        #[arg(long, value_enum, default_value_t = Format::Auto)]
        format: Format,
        /// How URIs reach their grants: rewrite, cookies (Set-Cookie lines on
        /// standard error), query (define / urlquery). Default: the
        /// configured delivery, or `hls-delivery=` in --url, as the function
        /// chooses (a viewer's choice never widens its grant).
        #[arg(long, value_name = "DELIVERY")]
        delivery: Option<String>,
        /// A public key of the key group as KEY_PAIR_ID=PEM_FILE (repeatable),
        /// for verifying the grant in --url.
        #[arg(long = "public-key", value_name = "ID=FILE")]
        public_keys: Vec<String>,
        /// A JSON configuration file (merged over the compiled-in one).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Sign as if the time were EPOCH (default: the system clock); with
        /// --ttl and --bucket this makes the output reproducible.
        #[arg(long, value_name = "EPOCH")]
        now: Option<u64>,
        /// The playlist file, or - for standard input.
        #[arg(default_value = "-")]
        input: String,
    },
    /// Run the function's real handler on an event file (Lambda@Edge or
    /// function URL) and print the response JSON; the log lines go to stderr.
    Invoke {
        /// The event JSON (see events/).
        event: PathBuf,
        /// A JSON configuration file, merged over the compiled-in one
        /// (HLS_* environment variables and the options here override it).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Serve origin playlists from this folder instead of fetching them.
        #[arg(long, value_name = "DIR")]
        origin_dir: Option<PathBuf>,
        /// A private key PEM file (instead of the configured key source).
        #[arg(long, value_name = "FILE", requires = "key_pair_id")]
        key: Option<PathBuf>,
        /// The CloudFront key pair id for --key.
        #[arg(long, value_name = "ID")]
        key_pair_id: Option<String>,
        /// Another public key of the key group, as KEY_PAIR_ID=PEM_FILE
        /// (repeatable): grants signed with it are accepted too.
        #[arg(long = "public-key", value_name = "ID=FILE")]
        public_keys: Vec<String>,
        /// Handle the event as if the time were EPOCH.
        #[arg(long, value_name = "EPOCH")]
        now: Option<u64>,
    },
    /// A local CloudFront in front of the function, as deployed: verifies
    /// every request's signature, runs the template's CloudFront Function and
    /// origin request policy, sends `*._m3u8` to the function as a
    /// function-URL request, serves the rest from the origin, and plays the
    /// sample at `/`.
    Serve {
        /// Address to listen on (loopback by default).
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: std::net::SocketAddr,
        /// The origin: a folder, or an http(s):// URL.
        #[arg(long, default_value = "events/origin")]
        origin: String,
        /// A JSON configuration file for the function.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// The private key PEM file (also the emulator's trusted key).
        #[arg(long, value_name = "FILE", requires = "key_pair_id")]
        key: Option<PathBuf>,
        /// The key pair id for --key.
        #[arg(long, value_name = "ID")]
        key_pair_id: Option<String>,
        /// Another public key of the key group, as KEY_PAIR_ID=PEM_FILE
        /// (repeatable).
        #[arg(long = "public-key", value_name = "ID=FILE")]
        public_keys: Vec<String>,
        /// The npm packages folder with the development page's players
        /// (hls.js, dash.js, Shaka).
        #[arg(long, value_name = "DIR", default_value = "tests/e2e/node_modules")]
        players: PathBuf,
        /// Lifetime of URLs issued by /dev/sign, in seconds.
        #[arg(long, value_name = "SECS", default_value_t = 3600)]
        dev_ttl: u64,
        /// How the distribution reaches the function: the deployed
        /// function-URL chain, or a Lambda@Edge viewer-request trigger.
        #[arg(long, value_enum, default_value_t = ServeTrigger::FunctionUrl)]
        trigger: ServeTrigger,
        /// The template whose CloudFront Function and origin request policy
        /// run (default: the one built into this binary).
        #[arg(long, value_name = "FILE")]
        template: Option<PathBuf>,
        /// Send function-URL requests to this URL instead of the handler in
        /// this process, e.g. the real bootstrap under `cargo lambda watch`:
        /// http://127.0.0.1:9000/lambda-url/hls-edge-signer
        #[arg(long, value_name = "URL")]
        function_url: Option<String>,
        /// The template's live origin: a folder or an http(s):// URL (e.g.
        /// `hls-sign live-origin`), serving the paths under --live-prefix
        /// with the live behaviours' query strings.
        #[arg(long, value_name = "DIR|URL")]
        live_origin: Option<String>,
        /// The live path prefix (the template's LivePathPrefix, with slashes).
        #[arg(long, value_name = "PATH", default_value = "/live/")]
        live_prefix: String,
    },
    /// A live LL-HLS origin on loopback over ffmpeg's fMP4 parts (made by
    /// scripts/live-source.sh): partial segments, preload hints, blocking
    /// reloads, delta updates and rendition reports, for the emulator's
    /// --live-origin.
    LiveOrigin {
        /// The folder with parts.m3u8, init.mp4 and the parts.
        #[arg(long, value_name = "DIR")]
        source: PathBuf,
        /// Address to listen on (loopback).
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: std::net::SocketAddr,
        /// Where the stream is served: MOUNT/master.m3u8, MOUNT/a/index.m3u8.
        #[arg(long, value_name = "PATH", default_value = "/live/ll/")]
        mount: String,
        /// Parts per segment.
        #[arg(long, default_value_t = 3)]
        parts_per_segment: u64,
        /// Complete segments in each playlist.
        #[arg(long, default_value_t = 12)]
        window: u64,
    },
    /// Generate a key pair for CloudFront (PEM files; the private one is created mode 0600).
    Keygen {
        #[arg(long, value_enum, default_value_t = KeyType::Rsa)]
        algorithm: KeyType,
        /// Where to write the private key.
        #[arg(long)]
        private_out: PathBuf,
        /// Where to write the public key (upload this one to CloudFront).
        #[arg(long)]
        public_out: PathBuf,
        /// Overwrite existing files.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// By --url's path (`.mpd` or the DASH routing suffix: DASH; `.m3u8`
    /// or the HLS suffix: HLS), else by the text (an `<MPD` element: DASH).
    Auto,
    Hls,
    Dash,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ServeTrigger {
    /// CloudFront Function + origin request policy + function URL (deployed).
    FunctionUrl,
    /// Lambda@Edge viewer request.
    ViewerRequest,
}

#[derive(Clone, Copy, ValueEnum)]
enum KeyType {
    /// RSA-2048 (every CloudFront signer supports it).
    Rsa,
    /// ECDSA P-256 (shorter signatures).
    Ecdsa,
}

#[derive(Args)]
struct KeyArgs {
    /// The private key (PEM: PKCS#1 or PKCS#8 RSA, PKCS#8 or SEC1 EC).
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
    /// The CloudFront public key id (e.g. K2JCJMDEHXQW5F).
    #[arg(long, value_name = "ID")]
    key_pair_id: String,
    /// Hash algorithm (default: sha1 for RSA keys, sha256 for ECDSA keys).
    #[arg(long)]
    hash: Option<HashAlgorithm>,
    /// RSA implementation.
    #[arg(long, value_enum, default_value_t = RsaBackend::AwsLc)]
    backend: RsaBackend,
}

impl KeyArgs {
    /// The public half of --key.
    fn public_key(&self) -> Result<PublicKey, String> {
        let pem = read_text(&self.key)?;
        PrivateKey::from_pem(&pem)
            .and_then(|key| key.public_key())
            .map_err(|e| format!("{}: {e}", self.key.display()))
    }

    fn url_signer(&self) -> Result<UrlSigner, String> {
        let pem = read_text(&self.key)?;
        let key = PrivateKey::from_pem(&pem).map_err(|e| format!("{}: {e}", self.key.display()))?;
        let signer = key.signer(self.backend).map_err(|e| e.to_string())?;
        let hash = self.hash.unwrap_or_else(|| key.default_hash());
        UrlSigner::new(signer, &self.key_pair_id, hash).map_err(|e| e.to_string())
    }
}

#[derive(Args)]
struct ExpiryArgs {
    /// Expiry as an epoch second.
    #[arg(
        long,
        value_name = "EPOCH",
        required_unless_present = "ttl",
        conflicts_with = "ttl"
    )]
    expires: Option<u64>,
    /// Expiry as seconds from now.
    #[arg(long, value_name = "SECS")]
    ttl: Option<u64>,
}

impl ExpiryArgs {
    fn epoch(&self) -> Result<u64, String> {
        match (self.expires, self.ttl) {
            (Some(expires), _) => Ok(expires),
            (None, Some(ttl)) => Ok(now().saturating_add(ttl)),
            (None, None) => Err("give --expires or --ttl".to_owned()),
        }
    }
}

#[derive(Args)]
struct SigningArgs {
    #[command(flatten)]
    key: KeyArgs,
    #[command(flatten)]
    expiry: ExpiryArgs,
    /// Not valid before this epoch second (makes the policy custom).
    #[arg(long, value_name = "EPOCH")]
    not_before: Option<u64>,
    /// Restrict to an IPv4 address or CIDR range (makes the policy custom).
    #[arg(long, value_name = "CIDR")]
    ip: Option<String>,
}

impl SigningArgs {
    /// The policy for `resource`, conditions in botocore's (and the AWS CLI's) order.
    fn policy(&self, resource: &str) -> Result<Policy, String> {
        let mut policy = Policy::custom(resource, self.expiry.epoch()?);
        if let Some(ip) = &self.ip {
            let range: Ipv4Cidr = ip.parse().map_err(|e| format!("--ip: {e}"))?;
            policy = policy.with(Condition::IpAddress(range));
        }
        if let Some(not_before) = self.not_before {
            policy = policy.with(Condition::DateGreaterThan(not_before));
        }
        policy.validate().map_err(|e| e.to_string())?;
        Ok(policy)
    }
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("hls-sign: error: {message}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode, String> {
    match cli.command {
        Command::Url {
            url,
            signing,
            resource,
        } => {
            let signer = signing.key.url_signer()?;
            let policy = signing.policy(resource.as_deref().unwrap_or(&url))?;
            println!(
                "{}",
                signer.sign_url(&url, &policy).map_err(|e| e.to_string())?
            );
        }
        Command::Cookies {
            resource,
            signing,
            json,
            domain,
            path,
            same_site,
            no_secure,
            no_http_only,
        } => {
            let signer = signing.key.url_signer()?;
            let policy = signing.policy(&resource)?;
            let cookies = signer.sign_cookies(&policy).map_err(|e| e.to_string())?;
            if json {
                let object: serde_json::Map<String, serde_json::Value> = cookies
                    .cookies
                    .iter()
                    .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                    .collect();
                println!("{}", serde_json::Value::Object(object));
            } else {
                let attributes = CookieAttributes {
                    domain,
                    path,
                    secure: !no_secure,
                    http_only: !no_http_only,
                    same_site,
                };
                for line in cookies.set_cookie_headers(&attributes) {
                    println!("Set-Cookie: {line}");
                }
            }
        }
        Command::Verify {
            url,
            public_keys,
            now: at,
            ip,
            cookies,
        } => {
            let trusted = read_public_keys(&public_keys)?;
            let cookies: Vec<(String, String)> = cookies
                .iter()
                .flat_map(|c| parse_cookie_header(c))
                .collect();
            let at = at.unwrap_or_else(now);
            return Ok(match verify_request(&url, &cookies, &trusted, at, ip) {
                Ok(grant) => {
                    let source = match grant.source() {
                        GrantSource::Query => "signed URL",
                        GrantSource::Cookies => "signed cookies",
                    };
                    println!("OK: CloudFront would accept this request");
                    println!("  source:      {source}");
                    println!(
                        "  policy:      {}",
                        if grant.canned() { "canned" } else { "custom" }
                    );
                    println!("  key pair id: {}", grant.key_pair_id());
                    println!("  hash:        {}", grant.hash());
                    println!("  resource:    {}", grant.policy().resource());
                    println!(
                        "  expires:     {} (in {} s)",
                        grant.policy().expires(),
                        grant.policy().expires().saturating_sub(at)
                    );
                    if let Some(nb) = grant.policy().not_before() {
                        println!("  not before:  {nb}");
                    }
                    if let Some(range) = grant.policy().ip_range() {
                        println!("  ip range:    {range}");
                    }
                    ExitCode::SUCCESS
                }
                Err(rejection) => {
                    println!("403 {}: {}", rejection.code, rejection.reason);
                    println!("{}", rejection.xml_body());
                    ExitCode::from(1)
                }
            });
        }
        Command::Manifest {
            url,
            key,
            expires,
            ttl,
            mode,
            ip,
            suffix,
            bucket,
            extra_hosts,
            confine_segments,
            format,
            delivery,
            public_keys,
            config,
            now: at,
            input,
        } => {
            let flags = RawConfig {
                mode: mode.map(|m| m.as_str().to_owned()),
                ttl_seconds: ttl,
                bucket_seconds: bucket,
                suffix,
                ip_pinning: ip,
                extra_hosts: (!extra_hosts.is_empty()).then_some(extra_hosts),
                confine_segments,
                hash: key.hash.map(|h| h.to_string()),
                delivery,
                ..RawConfig::default()
            };
            let mut config = cli_config(
                config.as_deref(),
                Some((key.key.clone(), key.key_pair_id.clone())),
                flags,
            )?;
            if let Some(expires) = expires {
                config.rewrite.expiry = Expiry::At(expires);
            }
            let signer = key.url_signer()?;
            let mut trusted = read_public_keys(&public_keys)?;
            trusted.extend(&config.trusted_keys);
            trusted.insert(&key.key_pair_id, key.public_key()?);
            let bytes = if input == "-" {
                let mut bytes = Vec::new();
                std::io::Read::read_to_end(&mut std::io::stdin(), &mut bytes)
                    .map_err(|e| format!("standard input: {e}"))?;
                bytes
            } else {
                std::fs::read(&input).map_err(|e| format!("{input}: {e}"))?
            };
            let playlist = String::from_utf8(bytes).map_err(|e| {
                format!(
                    "{input}: not UTF-8 text (byte {})",
                    e.utf8_error().valid_up_to()
                )
            })?;
            let at = at.unwrap_or_else(now);
            // The viewer's grant, verified; without one, the key holder's
            // own grant for --url, until the issued expiry.
            let granted_url = if UrlParts::split(&url).carries_signing_parameters() {
                url.clone()
            } else {
                let until = match config.rewrite.expiry {
                    Expiry::At(expires) => expires,
                    Expiry::Ttl { ttl, bucket } => {
                        hls_edge_signer::grant::round_up(at.saturating_add(ttl), bucket)
                    }
                };
                signer
                    .sign_url(&url, &Policy::canned(&url, until))
                    .map_err(|e| format!("--url: {e}"))?
            };
            let grant = verify_request(&granted_url, &[], &trusted, at, None)
                .map_err(|r| format!("--url: the grant does not verify: {r}"))?;
            let viewer = Viewer {
                url: &url,
                grant: &grant,
                client_ip: None,
            };
            let rewriter = Rewriter::new(signer, config.rewrite.clone(), 4096);
            // By --url's routing suffix or origin extension, else by the text.
            let format = match format {
                Format::Dash => ManifestFormat::Dash,
                Format::Hls => ManifestFormat::Hls,
                Format::Auto => {
                    let path = UrlParts::split(&url).base;
                    let options = &config.rewrite;
                    Routes {
                        hls: &options.suffix,
                        dash: &options.dash_suffix,
                    }
                    .route(path)
                    .or_else(|| Routes { hls: "", dash: "" }.route(path))
                    .map_or_else(|| ManifestFormat::sniff(&playlist), |route| route.format)
                }
            };
            // The same delivery path as the function's.
            let query = UrlParts::split(&url).query.unwrap_or("");
            let requested = delivery::requested(query).map_err(|e| format!("--url: {e}"))?;
            let plan = delivery::choose(
                config.delivery,
                requested.map(|(choice, _)| choice),
                &grant,
                delivery::tree(&url),
            );
            let job = Job {
                rewriter: &rewriter,
                format,
                body: &playlist,
                viewer,
                now: at,
                requested_pair: requested.map(|(_, pair)| pair),
                cookies: CookieSettings {
                    domain: config.cookie_domain.as_deref(),
                    same_site: &config.cookie_same_site,
                },
            };
            let delivered = job.run(plan).map_err(|e| format!("{input}: {e}"))?;
            print!("{}", delivered.rewritten.body);
            for cookie in &delivered.set_cookies {
                eprintln!("Set-Cookie: {cookie}");
            }
            if let Some(fallback) = delivered.fallback {
                eprintln!(
                    "hls-sign: delivery rewrite (the one asked for was not used: {})",
                    fallback.as_str()
                );
            }
            let rewritten = delivered.rewritten;
            let stats = rewritten.stats;
            eprintln!(
                "hls-sign: {} URIs, {} signed ({} propagated, {} renamed), {} untouched, {} unsigned{}, {} signatures, expires {}",
                stats.uris,
                stats.signed,
                stats.propagated,
                stats.renamed,
                stats.untouched,
                stats.unsigned,
                stats
                    .unsigned_reason
                    .map(|r| format!(" ({})", r.as_str()))
                    .unwrap_or_default(),
                stats.signatures,
                rewritten.expires
            );
        }
        Command::Invoke {
            event,
            config,
            origin_dir,
            key,
            key_pair_id,
            public_keys,
            now: at,
        } => {
            let flags = RawConfig {
                trusted_keys: trusted_key_flags(&public_keys)?,
                ..RawConfig::default()
            };
            let config = cli_config(config.as_deref(), key.zip(key_pair_id), flags)?;
            return invoke(event, config, origin_dir, at.unwrap_or_else(now));
        }
        Command::Serve {
            listen,
            origin,
            config,
            key,
            key_pair_id,
            public_keys,
            players,
            dev_ttl,
            trigger,
            template,
            function_url,
            live_origin,
            live_prefix,
        } => {
            let flags = RawConfig {
                trusted_keys: trusted_key_flags(&public_keys)?,
                ..RawConfig::default()
            };
            let config = cli_config(config.as_deref(), key.zip(key_pair_id), flags)?;
            let options = ServeOptions {
                listen,
                origin,
                players,
                dev_ttl,
                trigger,
                template,
                function_url,
                live_origin,
                live_prefix,
            };
            return serve(options, config);
        }
        Command::LiveOrigin {
            source,
            listen,
            mount,
            parts_per_segment,
            window,
        } => return live_origin(&source, listen, mount, parts_per_segment, window),
        Command::Keygen {
            algorithm,
            private_out,
            public_out,
            force,
        } => {
            let algorithm = match algorithm {
                KeyType::Rsa => KeyAlgorithm::Rsa2048,
                KeyType::Ecdsa => KeyAlgorithm::EcdsaP256,
            };
            for path in [&private_out, &public_out] {
                if path.exists() && !force {
                    return Err(format!(
                        "{} exists; pass --force to overwrite",
                        path.display()
                    ));
                }
            }
            let (private, public) = generate_pem(algorithm).map_err(|e| e.to_string())?;
            write_private(&private_out, private.as_bytes())?;
            std::fs::write(&public_out, public)
                .map_err(|e| format!("{}: {e}", public_out.display()))?;
            eprintln!(
                "wrote {} (private) and {} (public)",
                private_out.display(),
                public_out.display()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The configuration for `manifest`, `invoke` and `serve`: the function's
/// own layers (compiled-in JSON, `file` or `HLS_CONFIG_FILE`, `HLS_*`
/// variables), then the command's options, validated once.
fn cli_config(
    file: Option<&Path>,
    key: Option<(PathBuf, String)>,
    flags: RawConfig,
) -> Result<Config, String> {
    let mut builder = ConfigBuilder::compiled_in()
        .and_then(|b| b.file(file))
        .and_then(|b| b.environment(|n| std::env::var(n).ok()))
        .map_err(|e| e.to_string())?;
    if let Some((path, key_pair_id)) = key {
        builder = builder.key_file(path, Some(key_pair_id));
    }
    builder.layer(flags).build().map_err(|e| e.to_string())
}

/// `ID=FILE` public keys, as a key group.
fn read_public_keys(specs: &[String]) -> Result<TrustedKeys, String> {
    let mut trusted = TrustedKeys::new();
    for spec in specs {
        let (id, file) = spec
            .split_once('=')
            .ok_or_else(|| format!("--public-key `{spec}` is not ID=FILE"))?;
        let key = PublicKey::from_pem(&read_text(Path::new(file))?)
            .map_err(|e| format!("{file}: {e}"))?;
        trusted.insert(id, key);
    }
    Ok(trusted)
}

/// `--public-key ID=FILE` options as the `trusted_keys` config layer
/// (each checked now, so a bad file is named here).
fn trusted_key_flags(
    specs: &[String],
) -> Result<Option<std::collections::BTreeMap<String, String>>, String> {
    read_public_keys(specs)?;
    let keys: std::collections::BTreeMap<String, String> = specs
        .iter()
        .filter_map(|spec| spec.split_once('='))
        .map(|(id, file)| (id.to_owned(), format!("@{file}")))
        .collect();
    Ok((!keys.is_empty()).then_some(keys))
}

/// `hls-sign serve`'s own options.
struct ServeOptions {
    listen: std::net::SocketAddr,
    origin: String,
    players: PathBuf,
    dev_ttl: u64,
    trigger: ServeTrigger,
    template: Option<PathBuf>,
    function_url: Option<String>,
    live_origin: Option<String>,
    live_prefix: String,
}

/// An origin the emulator serves from: an http(s):// URL or a folder.
fn origin_from(flag: &str, spec: &str) -> Result<hls_edge_signer::emulator::StaticOrigin, String> {
    use hls_edge_signer::emulator::{FolderOrigin, StaticOrigin};
    if spec.starts_with("http://") || spec.starts_with("https://") {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| e.to_string())?;
        let base = spec.trim_end_matches('/').to_owned();
        return Ok(StaticOrigin::Http { base, client });
    }
    let dir = PathBuf::from(spec);
    if !dir.is_dir() {
        return Err(format!("{flag} {spec}: not a folder or http(s) URL"));
    }
    Ok(StaticOrigin::Dir(FolderOrigin::new(dir)))
}

/// `hls-sign live-origin`: the LL-HLS test origin until interrupted.
fn live_origin(
    source: &Path,
    listen: std::net::SocketAddr,
    mount: String,
    parts_per_segment: u64,
    window: u64,
) -> Result<ExitCode, String> {
    use hls_edge_signer::emulator::live_origin::{serve, LiveOrigin, LiveStream};
    if !mount.starts_with('/') || !mount.ends_with('/') {
        return Err(format!("--mount {mount}: must start and end with /"));
    }
    if window == 0 {
        return Err("--window must be at least 1".to_owned());
    }
    let stream = LiveStream::from_folder(source, parts_per_segment, window)
        .map_err(|e| format!("--source {}: {e}", source.display()))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| format!("--listen {listen}: {e}"))?;
        let address = listener.local_addr().map_err(|e| e.to_string())?;
        println!("listening on http://{address}{mount}master.m3u8");
        let origin = LiveOrigin {
            stream,
            mount,
            started: std::time::Instant::now(),
        };
        serve(listener, std::sync::Arc::new(origin))
            .await
            .map_err(|e| e.to_string())?;
        Ok(ExitCode::SUCCESS)
    })
}

/// `hls-sign serve`: the local CloudFront emulator.
fn serve(options: ServeOptions, mut function_config: Config) -> Result<ExitCode, String> {
    use hls_edge_signer::emulator::function::FunctionTarget;
    use hls_edge_signer::emulator::template::{Deployment, DEPLOYED};
    use hls_edge_signer::emulator::{
        cf_function::CloudFrontFunction, serve, DeployedChain, EmulatedTrigger, Emulator, LiveRoute,
    };
    let template = match &options.template {
        Some(path) => read_text(path)?,
        None => DEPLOYED.to_owned(),
    };
    let deployment = Deployment::from_template(&template).map_err(|e| e.to_string())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(options.listen)
            .await
            .map_err(|e| format!("--listen {}: {e}", options.listen))?;
        let address = listener.local_addr().map_err(|e| e.to_string())?;
        let static_origin = origin_from("--origin", &options.origin)?;
        let live = match &options.live_origin {
            None => None,
            Some(spec) => {
                let prefix = &options.live_prefix;
                if !prefix.starts_with('/') || !prefix.ends_with('/') || prefix.len() < 3 {
                    return Err(format!(
                        "--live-prefix {prefix}: must start and end with / and name a folder"
                    ));
                }
                Some(LiveRoute {
                    prefix: prefix.clone(),
                    origin: origin_from("--live-origin", spec)?,
                    query_strings: deployment.live_query_strings.clone(),
                })
            }
        };
        // As deployed, the function's origin is the distribution: it fetches
        // `index.m3u8` back through this emulator, signed.
        function_config.origin = None;
        function_config.distribution_endpoint = Some(format!("http://{address}"));
        let handler = Handler::from_config(function_config, None)
            .await
            .map_err(|e| e.to_string())?;
        let trigger = match options.trigger {
            ServeTrigger::ViewerRequest => EmulatedTrigger::ViewerRequest,
            ServeTrigger::FunctionUrl => {
                let cf_function = CloudFrontFunction::start(&deployment.function_code)
                    .await
                    .map_err(|e| e.to_string())?;
                let target = match options.function_url {
                    None => FunctionTarget::InProcess,
                    // The viewer's grant travels to it in headers.
                    Some(base) => FunctionTarget::Remote {
                        base: hls_edge_signer::config::check_loopback_or_https(
                            "--function-url",
                            base.trim_end_matches('/').to_owned(),
                        )
                        .map_err(|e| e.to_string())?,
                        client: reqwest::Client::builder()
                            .redirect(reqwest::redirect::Policy::none())
                            .build()
                            .map_err(|e| e.to_string())?,
                    },
                };
                EmulatedTrigger::FunctionUrl(Box::new(DeployedChain {
                    cf_function,
                    policy: deployment.origin_request_policy,
                    target,
                }))
            }
        };
        let emulator = Emulator {
            handler,
            origin: static_origin,
            host: address.to_string(),
            players: Some(options.players),
            dev_ttl: options.dev_ttl,
            verified: hls_edge_signer::verify::VerifiedSignatures::new(4096),
            trigger,
            live,
        };
        println!("listening on http://{address}");
        serve(listener, std::sync::Arc::new(emulator))
            .await
            .map_err(|e| e.to_string())?;
        Ok(ExitCode::SUCCESS)
    })
}

/// `hls-sign invoke`: the same path as a Lambda invocation.
fn invoke(
    event: PathBuf,
    config: Config,
    origin_dir: Option<PathBuf>,
    now: u64,
) -> Result<ExitCode, String> {
    let text = std::fs::read_to_string(&event).map_err(|e| format!("{}: {e}", event.display()))?;
    let json: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: not JSON: {e}", event.display()))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let handler = Handler::from_config(config, origin_dir)
            .await
            .map_err(|e| e.to_string())?;
        let (response, log) = handle_event(&handler, json, now)
            .await
            .map_err(|e| format!("{}: {e}", event.display()))?;
        eprintln!("{}", log.json_line());
        println!(
            "{}",
            serde_json::to_string_pretty(&response).map_err(|e| e.to_string())?
        );
        Ok(ExitCode::SUCCESS)
    })
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn read_text(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
}

/// Writes a private key readable by its owner only.
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), String> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    file.write_all(bytes)
        .map_err(|e| format!("{}: {e}", path.display()))
}
