#!/usr/bin/env python3
"""Security properties of template.yaml, checked without an AWS account.

    python3 tests/template_test.py          # or: make test-template

Reads the SAM template (PyYAML, with CloudFormation's short-form tags), checks
what the deployment promises -- a private, KMS-encrypted bucket that only this
distribution may read, signatures demanded on every cache behavior, HTTPS only,
a function URL that only this distribution may call, a function that may read
one secret and nothing else -- and runs the CloudFront Function's code with
node on sample viewer requests (tests/cf_function_test.js).

HLS_TEMPLATE=path/to/other.yaml checks another copy of the template.
"""

import copy
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

try:
    import yaml
except ImportError:  # PyYAML comes with cfn-lint
    sys.exit("template_test.py needs PyYAML: python3 -m pip install cfn-lint (or pyyaml)")

HERE = Path(__file__).resolve().parent
TEMPLATE = Path(os.environ.get("HLS_TEMPLATE", HERE.parent / "template.yaml"))
NODE_RUNNER = HERE / "cf_function_test.js"

# How the template names this stack's distribution wherever it scopes a grant.
DISTRIBUTION_ARN = {
    "Fn::Sub": "arn:${AWS::Partition}:cloudfront::${AWS::AccountId}:distribution/${Distribution}"
}
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
GRANT_HEADER = "x-hls-viewer-grant"
COOKIE_HEADER = "x-hls-viewer-cookies"
HOST_HEADER = "x-hls-viewer-host"
SIGNING_PARAMS = ["Expires", "Policy", "Signature", "Key-Pair-Id", "Hash-Algorithm"]
ENV_NAMES = [
    "HLS_SECRET_ID",
    "HLS_SECRET_REGION",
    "HLS_KEY_PAIR_ID",
    "HLS_TRUSTED_KEYS",
    "HLS_MODE",
    "HLS_DELIVERY",
    "HLS_COOKIE_SAME_SITE",
    "HLS_COOKIE_DOMAIN",
    "HLS_IP_PINNING",
    "HLS_IPV6_VIEWERS",
    "HLS_CONFINE_SEGMENTS",
    "HLS_TTL",
    "HLS_BUCKET",
    "HLS_SUFFIX",
    "HLS_DASH_SUFFIX",
    "HLS_HASH",
    "HLS_CORS_ORIGINS",
    "HLS_GRANT_HEADER",
    "HLS_GRANT_COOKIE_HEADER",
    "HLS_HOST_HEADER",
]
LIVE_PARAMETERS = ["LiveOriginDomain", "LivePathPrefix", "LiveCdnAuthSecretArn"]
# MediaPackage v2 CDN authorization: the header CloudFront adds and the key of
# the secret's JSON that holds its value.
CDN_AUTH_HEADER = "X-MediaPackageV2-CDNIdentifier"
CDN_AUTH_SECRET_KEY = "MediaPackageV2CDNIdentifier"
LL_HLS_DIRECTIVES = ["_HLS_msn", "_HLS_part", "_HLS_skip"]


# ------------------------------------------------------------------ loading --


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader that turns !Ref, !Sub, !GetAtt, ... into their long forms."""


def _construct_tag(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "Condition":
        return {"Condition": value}
    if suffix == "GetAtt" and isinstance(value, str):
        return {"Fn::GetAtt": value.split(".", 1)}
    return {"Fn::" + suffix: value}


_CfnLoader.add_multi_constructor("!", _construct_tag)


def load_template(path=TEMPLATE):
    with open(path, encoding="utf-8") as f:
        return yaml.load(f, Loader=_CfnLoader)


def as_list(value):
    return value if isinstance(value, list) else [value]


def ref(name):
    return {"Ref": name}


def get_att(resource, attribute):
    return {"Fn::GetAtt": [resource, attribute]}


def strip_no_value(value):
    """Items of a list, with `!If [cond, x, !Ref AWS::NoValue]` reduced to x."""
    out = []
    for item in as_list(value):
        if isinstance(item, dict) and "Fn::If" in item:
            _, yes, no = item["Fn::If"]
            out.extend(v for v in (yes, no) if v != ref("AWS::NoValue"))
        else:
            out.append(item)
    return out


# A marker for `!Ref AWS::NoValue` while a template is being resolved.
_NO_VALUE = object()


class Conditions:
    """The template's Conditions evaluated for given parameter values (the
    parameters' defaults, overridden by `overrides`)."""

    def __init__(self, template, **overrides):
        self.template = template
        self.values = {name: p.get("Default") for name, p in template["Parameters"].items()}
        self.values.update(overrides)
        self.cache = {}

    def __call__(self, name):
        if name not in self.cache:
            self.cache[name] = self.evaluate(self.template["Conditions"][name])
        return self.cache[name]

    def value(self, v):
        if isinstance(v, str):
            return v
        if isinstance(v, dict) and set(v) == {"Ref"}:
            name = v["Ref"]
            value = self.values[name]
            if self.template["Parameters"][name]["Type"] == "CommaDelimitedList":
                return value.split(",")
            return str(value)
        if isinstance(v, dict) and set(v) == {"Fn::Join"}:
            sep, items = v["Fn::Join"]
            items = self.value(items) if isinstance(items, dict) else [self.value(i) for i in items]
            return sep.join(items)
        raise AssertionError(f"cannot evaluate {v!r} in a condition")

    def evaluate(self, c):
        (fn, arg), = c.items()
        if fn == "Condition":
            return self(arg)
        if fn == "Fn::Equals":
            return self.value(arg[0]) == self.value(arg[1])
        if fn == "Fn::Not":
            return not self.evaluate(arg[0])
        if fn == "Fn::And":
            return all(self.evaluate(x) for x in arg)
        if fn == "Fn::Or":
            return any(self.evaluate(x) for x in arg)
        raise AssertionError(f"cannot evaluate {fn} in a condition")


def resolve(value, conditions):
    """`value` with every Fn::If decided by `conditions` and AWS::NoValue removed."""
    if isinstance(value, dict):
        if set(value) == {"Fn::If"}:
            name, yes, no = value["Fn::If"]
            return resolve(yes if conditions(name) else no, conditions)
        if value == ref("AWS::NoValue"):
            return _NO_VALUE
        out = {k: resolve(v, conditions) for k, v in value.items()}
        return {k: v for k, v in out.items() if v is not _NO_VALUE}
    if isinstance(value, list):
        return [v for v in (resolve(x, conditions) for x in value) if v is not _NO_VALUE]
    return value


def references(value):
    """Names of everything `value` refers to (Ref, Fn::GetAtt, ${...} in Fn::Sub)."""
    found = set()
    if isinstance(value, dict):
        for k, v in value.items():
            if k == "Ref":
                found.add(v)
            elif k == "Fn::GetAtt":
                found.add(v[0])
            elif k == "Fn::Sub":
                text = v if isinstance(v, str) else v[0]
                found.update(m.split(".")[0] for m in re.findall(r"\$\{([^}!]+)\}", text))
                if not isinstance(v, str):
                    found.update(references(v[1]))
            else:
                found.update(references(v))
    elif isinstance(value, list):
        for v in value:
            found.update(references(v))
    return found


class TemplateCase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.t = load_template()
        cls.resources = cls.t["Resources"]

    def resource(self, name, type_):
        self.assertIn(name, self.resources, f"resource {name} is missing")
        res = self.resources[name]
        self.assertEqual(res["Type"], type_, f"{name} should be a {type_}")
        return res["Properties"]

    def of_type(self, type_):
        return {k: v for k, v in self.resources.items() if v["Type"] == type_}

    def only(self, type_):
        found = self.of_type(type_)
        self.assertEqual(len(found), 1, f"expected exactly one {type_}, found {sorted(found)}")
        name, res = next(iter(found.items()))
        return name, res["Properties"]

    def distribution(self):
        return self.resource("Distribution", "AWS::CloudFront::Distribution")["DistributionConfig"]

    def behaviors(self):
        config = self.distribution()
        default = dict(config["DefaultCacheBehavior"], PathPattern="(default)")
        # Conditional behaviors (`!If [cond, {...}, !Ref AWS::NoValue]`) are
        # checked as if their condition held.
        return [default] + strip_no_value(config.get("CacheBehaviors", []))

    def behavior(self, pattern):
        for b in self.behaviors():
            if b["PathPattern"] == pattern:
                return b
        self.fail(f"no cache behavior with PathPattern {pattern!r}")

    def origin(self, origin_id):
        for o in strip_no_value(self.distribution()["Origins"]):
            if o["Id"] == origin_id:
                return o
        self.fail(f"no origin with Id {origin_id!r}")

    def function_env(self):
        props = self.resource("SignerFunction", "AWS::Serverless::Function")
        return props["Environment"]["Variables"]

    def resolved(self, **parameters):
        """The resources deployed with these parameter values (the rest default)."""
        conditions = Conditions(self.t, **parameters)
        return {
            name: resolve(res, conditions)
            for name, res in self.resources.items()
            if "Condition" not in res or conditions(res["Condition"])
        }

    def function_code(self):
        props = self.resource("ViewerGrantFunction", "AWS::CloudFront::Function")
        return props["FunctionCode"]


# ------------------------------------------------------------------ storage --


class StorageTest(TemplateCase):
    def bucket(self):
        return self.resource("MediaBucket", "AWS::S3::Bucket")

    def bucket_statements(self):
        policy = self.resource("MediaBucketPolicy", "AWS::S3::BucketPolicy")
        self.assertEqual(policy["Bucket"], ref("MediaBucket"), "bucket policy is not on MediaBucket")
        return as_list(policy["PolicyDocument"]["Statement"])

    def test_bucket_blocks_every_kind_of_public_access(self):
        pab = self.bucket().get("PublicAccessBlockConfiguration", {})
        for setting in ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"):
            self.assertIs(pab.get(setting), True, f"PublicAccessBlockConfiguration.{setting} must be true")

    def test_bucket_is_encrypted_with_the_customer_managed_key_and_a_bucket_key(self):
        rules = self.bucket()["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        self.assertEqual(len(rules), 1)
        rule = rules[0]
        default = rule["ServerSideEncryptionByDefault"]
        self.assertEqual(default["SSEAlgorithm"], "aws:kms", "bucket default encryption must be SSE-KMS")
        self.assertIn(
            default.get("KMSMasterKeyID"),
            (get_att("MediaKey", "Arn"), ref("MediaKey")),
            "SSE-KMS must use this stack's customer-managed key, not aws/s3",
        )
        self.resource("MediaKey", "AWS::KMS::Key")
        self.assertIs(rule.get("BucketKeyEnabled"), True, "BucketKeyEnabled must be true")

    def test_bucket_is_versioned(self):
        self.assertEqual(self.bucket().get("VersioningConfiguration", {}).get("Status"), "Enabled")

    def test_bucket_policy_denies_requests_without_tls(self):
        bucket_arn = get_att("MediaBucket", "Arn")
        for st in self.bucket_statements():
            if (
                st["Effect"] == "Deny"
                and st.get("Principal") == "*"
                and "s3:*" in as_list(st["Action"])
                and st.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") in ("false", False)
            ):
                resources = as_list(st["Resource"])
                self.assertIn(bucket_arn, resources, "the TLS deny must cover the bucket")
                self.assertIn({"Fn::Sub": "${MediaBucket.Arn}/*"}, resources, "the TLS deny must cover objects")
                return
        self.fail("no statement denies s3:* to everyone when aws:SecureTransport is false")

    def test_bucket_policy_lets_only_this_distribution_read(self):
        allows = [st for st in self.bucket_statements() if st["Effect"] == "Allow"]
        self.assertTrue(allows, "CloudFront needs an Allow statement to read objects")
        for st in allows:
            self.assertEqual(
                st.get("Principal"), {"Service": "cloudfront.amazonaws.com"}, "only CloudFront may be allowed"
            )
            self.assertEqual(as_list(st["Action"]), ["s3:GetObject"], "CloudFront needs s3:GetObject only")
            self.assertEqual(
                st.get("Condition"),
                {"StringEquals": {"AWS:SourceArn": DISTRIBUTION_ARN}},
                "the read grant must be scoped to this distribution",
            )

    def test_kms_key_rotates(self):
        self.assertIs(self.resource("MediaKey", "AWS::KMS::Key").get("EnableKeyRotation"), True)

    def test_kms_key_policy_lets_cloudfront_only_decrypt_for_this_distribution(self):
        statements = as_list(self.resource("MediaKey", "AWS::KMS::Key")["KeyPolicy"]["Statement"])
        cloudfront = [st for st in statements if st.get("Principal") == {"Service": "cloudfront.amazonaws.com"}]
        self.assertEqual(len(cloudfront), 1, "exactly one key policy statement for cloudfront.amazonaws.com")
        st = cloudfront[0]
        self.assertEqual(st["Effect"], "Allow")
        self.assertEqual(as_list(st["Action"]), ["kms:Decrypt"], "CloudFront needs kms:Decrypt and nothing else")
        self.assertEqual(
            st.get("Condition"),
            {"StringEquals": {"AWS:SourceArn": DISTRIBUTION_ARN}},
            "the decrypt grant must be scoped to this distribution",
        )
        root = {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}}
        for other in statements:
            if other is st:
                continue
            self.assertEqual(
                other.get("Principal"), root, "every other key policy statement must name the account root only"
            )

    def test_s3_origin_points_at_the_media_bucket(self):
        # The bucket name is computed twice (to avoid a dependency cycle); the
        # two spellings must agree.
        name = self.bucket()["BucketName"]
        domain = self.origin("media")["DomainName"]
        self.assertEqual(
            domain,
            {"Fn::Join": ["", [name, {"Fn::Sub": ".s3.${AWS::Region}.${AWS::URLSuffix}"}]]},
            "the S3 origin's DomainName must be MediaBucket's BucketName plus the regional endpoint",
        )


# ------------------------------------------------------------- distribution --


class DistributionTest(TemplateCase):
    def test_every_cache_behavior_demands_a_signature_from_the_key_group(self):
        self.resource("KeyGroup", "AWS::CloudFront::KeyGroup")
        for b in self.behaviors():
            self.assertEqual(
                b.get("TrustedKeyGroups"),
                [ref("KeyGroup")],
                f"behavior {b['PathPattern']} must trust the key group (and nothing else)",
            )
            self.assertNotIn("TrustedSigners", b, f"behavior {b['PathPattern']} uses legacy trusted signers")

    def test_key_group_holds_only_this_stacks_public_keys(self):
        items = strip_no_value(self.resource("KeyGroup", "AWS::CloudFront::KeyGroup")["KeyGroupConfig"]["Items"])
        self.assertTrue(items)
        for item in items:
            self.assertIn("Ref", item, "key group items must reference public keys of this stack")
            self.resource(item["Ref"], "AWS::CloudFront::PublicKey")

    def test_viewers_reach_every_behavior_over_https_only(self):
        for b in self.behaviors():
            self.assertIn(
                b["ViewerProtocolPolicy"],
                ("https-only", "redirect-to-https"),
                f"behavior {b['PathPattern']} must not serve plain HTTP",
            )

    def test_both_origins_use_origin_access_control(self):
        media = self.origin("media")
        oac = media.get("OriginAccessControlId")
        self.assertEqual(oac, get_att("MediaOriginAccessControl", "Id"), "the S3 origin needs its OAC")
        config = self.resource("MediaOriginAccessControl", "AWS::CloudFront::OriginAccessControl")
        config = config["OriginAccessControlConfig"]
        self.assertEqual(config["OriginAccessControlOriginType"], "s3")
        self.assertEqual((config["SigningBehavior"], config["SigningProtocol"]), ("always", "sigv4"))
        self.assertEqual(media["S3OriginConfig"], {"OriginAccessIdentity": ""}, "no legacy OAI with OAC")

        signer = self.origin("signer")
        self.assertEqual(signer.get("OriginAccessControlId"), get_att("SignerOriginAccessControl", "Id"))
        config = self.resource("SignerOriginAccessControl", "AWS::CloudFront::OriginAccessControl")
        config = config["OriginAccessControlConfig"]
        self.assertEqual(config["OriginAccessControlOriginType"], "lambda")
        self.assertEqual((config["SigningBehavior"], config["SigningProtocol"]), ("always", "sigv4"))
        self.assertEqual(
            signer["DomainName"],
            {"Fn::Select": [2, {"Fn::Split": ["/", get_att("SignerFunctionUrl", "FunctionUrl")]}]},
            "the function origin must be the signer's function URL host",
        )
        self.assertEqual(signer["CustomOriginConfig"]["OriginProtocolPolicy"], "https-only")

    def test_mpd_suffix_goes_to_the_function_exactly_as_the_playlist_suffix_does(self):
        hls = self.behavior({"Fn::Sub": "*${PlaylistSuffix}"})
        dash = self.behavior({"Fn::Sub": "*${MpdSuffix}"})
        self.assertEqual({**dash, "PathPattern": None}, {**hls, "PathPattern": None})
        env = self.function_env()
        self.assertEqual(env["HLS_DASH_SUFFIX"], ref("MpdSuffix"), "function and behavior must agree on the suffix")
        defaults = {self.t["Parameters"][p]["Default"] for p in ("PlaylistSuffix", "MpdSuffix")}
        self.assertEqual(len(defaults), 2, "the two suffixes must differ")
        self.assertNotEqual(self.t["Parameters"]["MpdSuffix"]["Default"], ".mpd")

    def test_playlist_suffix_goes_to_the_function_with_the_grant_function(self):
        b = self.behavior({"Fn::Sub": "*${PlaylistSuffix}"})
        self.assertEqual(b["TargetOriginId"], "signer")
        self.assertEqual(b["CachePolicyId"], CACHING_DISABLED, "rewritten playlists are per viewer: no caching")
        self.assertEqual(
            b.get("FunctionAssociations"),
            [{"EventType": "viewer-request", "FunctionARN": get_att("ViewerGrantFunction", "FunctionARN")}],
        )
        self.assertEqual(b["OriginRequestPolicyId"], ref("SignerOriginRequestPolicy"))
        policy = self.resource("SignerOriginRequestPolicy", "AWS::CloudFront::OriginRequestPolicy")
        policy = policy["OriginRequestPolicyConfig"]
        headers = policy["HeadersConfig"]
        self.assertEqual(headers["HeaderBehavior"], "whitelist")
        forwarded = {h.lower() for h in headers["Headers"]}
        for needed in (GRANT_HEADER, COOKIE_HEADER, HOST_HEADER, "cloudfront-viewer-address"):
            self.assertIn(needed, forwarded, f"the function needs the {needed} header")
        self.assertNotIn("host", forwarded, "the viewer's Host would misroute the function URL request")
        self.assertEqual(policy["QueryStringsConfig"]["QueryStringBehavior"], "all")
        env = self.function_env()
        self.assertEqual(env["HLS_SUFFIX"], ref("PlaylistSuffix"), "function and behavior must agree on the suffix")
        self.assertNotEqual(self.t["Parameters"]["PlaylistSuffix"]["Default"], ".m3u8")

    def test_plain_playlists_and_everything_else_come_from_s3(self):
        for b in (self.behavior("*.m3u8"), self.behavior("*.mpd"), self.behavior("(default)")):
            self.assertEqual(b["TargetOriginId"], "media", f"{b['PathPattern']} must be served from S3")
            self.assertEqual(b["CachePolicyId"], CACHING_OPTIMIZED)
            self.assertNotIn("FunctionAssociations", b)

    def test_every_behavior_gets_the_response_headers_policy(self):
        for b in self.behaviors():
            self.assertEqual(b.get("ResponseHeadersPolicyId"), ref("ResponseHeadersPolicy"), b["PathPattern"])
        config = self.resource("ResponseHeadersPolicy", "AWS::CloudFront::ResponseHeadersPolicy")
        config = config["ResponseHeadersPolicyConfig"]
        security = config["SecurityHeadersConfig"]
        self.assertGreaterEqual(security["StrictTransportSecurity"]["AccessControlMaxAgeSec"], 31536000)
        self.assertIn("ContentTypeOptions", security, "nosniff is missing")
        cors = config["CorsConfig"]["Fn::If"]
        self.assertEqual(cors[0], "HasCorsOrigins")
        self.assertEqual(cors[1]["AccessControlAllowOrigins"]["Items"], ref("CorsOrigins"))
        self.assertEqual(cors[1]["AccessControlAllowMethods"]["Items"], ["GET", "HEAD"])
        self.assertIs(cors[1]["AccessControlAllowCredentials"], True, "named origins only (CorsOrigins pattern)")

    def test_access_logging_is_optional(self):
        logging = self.distribution()["Logging"]["Fn::If"]
        self.assertEqual(logging[0], "HasLogBucket")
        self.assertEqual(logging[2], ref("AWS::NoValue"))


# -------------------------------------------------------------- live origin --

LIVE_DOMAIN = "abcd12.egress.mp2.us-east-1.mediapackagev2.amazonaws.com"
LIVE_SECRET = "arn:aws:secretsmanager:us-east-1:111122223333:secret:live-cdn-auth-AbCdEf"


class LiveOriginTest(TemplateCase):
    def live_behaviors(self):
        return [b for b in self.behaviors() if b["TargetOriginId"] == "live"]

    def pattern(self, parameter):
        return re.compile(self.t["Parameters"][parameter]["AllowedPattern"])

    def test_live_parameters_default_to_no_live_origin(self):
        params = self.t["Parameters"]
        for name in LIVE_PARAMETERS:
            self.assertIn(name, params)
            self.assertEqual(params[name]["Type"], "String", name)
        self.assertEqual(params["LiveOriginDomain"]["Default"], "")
        self.assertEqual(params["LivePathPrefix"]["Default"], "out/v1/", "MediaPackage v2 egress paths, 1:1")
        self.assertEqual(params["LiveCdnAuthSecretArn"]["Default"], "")
        groups = self.t["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"]
        live = [g for g in groups if g["Label"]["default"] == "Live origin"]
        self.assertEqual([g["Parameters"] for g in live], [LIVE_PARAMETERS])
        grouped = [p for g in groups for p in g["Parameters"]]
        self.assertEqual(sorted(grouped), sorted(params), "every parameter in exactly one group")

        defaults = Conditions(self.t)
        self.assertFalse(defaults("HasLiveOrigin"))
        self.assertFalse(defaults("HasLiveCdnAuth"))
        self.assertFalse(Conditions(self.t, LiveCdnAuthSecretArn=LIVE_SECRET)("HasLiveCdnAuth"),
                         "CDN authorization needs a live origin")
        self.assertTrue(Conditions(self.t, LiveOriginDomain=LIVE_DOMAIN)("HasLiveOrigin"))
        self.assertFalse(Conditions(self.t, LiveOriginDomain=LIVE_DOMAIN)("HasLiveCdnAuth"))
        on = Conditions(self.t, LiveOriginDomain=LIVE_DOMAIN, LiveCdnAuthSecretArn=LIVE_SECRET)
        self.assertTrue(on("HasLiveOrigin") and on("HasLiveCdnAuth"))

    def test_by_default_nothing_of_the_live_origin_is_deployed(self):
        resources = self.resolved()
        self.assertNotIn("LivePlaylistCachePolicy", resources)
        config = resources["Distribution"]["Properties"]["DistributionConfig"]
        self.assertEqual([o["Id"] for o in config["Origins"]], ["media", "signer"])
        self.assertEqual(
            [b["PathPattern"] for b in config["CacheBehaviors"]],
            [{"Fn::Sub": "*${PlaylistSuffix}"}, {"Fn::Sub": "*${MpdSuffix}"}, "*.m3u8", "*.mpd"],
        )

    def test_nothing_deployed_refers_to_a_resource_left_out(self):
        scenarios = [{}, {"LiveOriginDomain": LIVE_DOMAIN}, {"LiveCdnAuthSecretArn": LIVE_SECRET},
                     {"LiveOriginDomain": LIVE_DOMAIN, "LiveCdnAuthSecretArn": LIVE_SECRET}]
        for parameters in scenarios:
            resources = self.resolved(**parameters)
            for name, res in resources.items():
                for target in references(res.get("Properties", {})):
                    if target in self.resources:
                        self.assertIn(target, resources, f"{parameters}: {name} refers to {target}, not deployed")

    def test_live_origin_is_https_only_and_authorizes_with_a_dynamic_reference(self):
        resources = self.resolved(LiveOriginDomain=LIVE_DOMAIN, LiveCdnAuthSecretArn=LIVE_SECRET)
        origins = resources["Distribution"]["Properties"]["DistributionConfig"]["Origins"]
        (live,) = [o for o in origins if o["Id"] == "live"]
        self.assertEqual(live["DomainName"], ref("LiveOriginDomain"))
        self.assertEqual(
            live["CustomOriginConfig"],
            {"OriginProtocolPolicy": "https-only", "OriginSSLProtocols": ["TLSv1.2"], "HTTPSPort": 443},
        )
        (header,) = live["OriginCustomHeaders"]
        self.assertEqual(header["HeaderName"], CDN_AUTH_HEADER)
        value = header["HeaderValue"]
        self.assertEqual(
            value,
            {"Fn::Sub": "{{resolve:secretsmanager:${LiveCdnAuthSecretArn}:SecretString:"
                        + CDN_AUTH_SECRET_KEY + "}}"},
            "the header value must be a Secrets Manager dynamic reference",
        )
        self.assertNotIn("Ref", json.dumps(value), "the header value must never be a parameter's value")
        # The ARN appears in the dynamic reference and the conditions only:
        # never in the function's environment, an output or anywhere else.
        uses = [
            name for name, res in self.resources.items()
            if "LiveCdnAuthSecretArn" in references(res.get("Properties", {}))
        ]
        self.assertEqual(uses, ["Distribution"])
        self.assertNotIn("LiveCdnAuthSecretArn", references(self.t.get("Outputs", {})))

        without_auth = self.resolved(LiveOriginDomain=LIVE_DOMAIN)
        origins = without_auth["Distribution"]["Properties"]["DistributionConfig"]["Origins"]
        (live,) = [o for o in origins if o["Id"] == "live"]
        self.assertNotIn("OriginCustomHeaders", live)

    def test_live_playlist_cache_policy_keys_on_the_ll_hls_directives(self):
        res = self.resources["LivePlaylistCachePolicy"]
        self.assertEqual(res["Condition"], "HasLiveOrigin")
        props = self.resource("LivePlaylistCachePolicy", "AWS::CloudFront::CachePolicy")
        config = props["CachePolicyConfig"]
        self.assertEqual(config["MinTTL"], 0, "the origin's own short max-age must be honoured")
        self.assertLessEqual(config["DefaultTTL"], 2, "a live playlist is stale within a segment")
        self.assertLessEqual(config["MaxTTL"], 60)
        key = config["ParametersInCacheKeyAndForwardedToOrigin"]
        self.assertIs(key["EnableAcceptEncodingGzip"], True)
        self.assertIs(key["EnableAcceptEncodingBrotli"], True)
        self.assertEqual(key["HeadersConfig"], {"HeaderBehavior": "none"})
        self.assertEqual(key["CookiesConfig"], {"CookieBehavior": "none"})
        query = key["QueryStringsConfig"]
        self.assertEqual(query["QueryStringBehavior"], "whitelist")
        self.assertEqual(sorted(query["QueryStrings"]), sorted(LL_HLS_DIRECTIVES))
        # A block list, one plain scalar a line (read by the emulator's reader).
        text = TEMPLATE.read_text(encoding="utf-8")
        block = r"\n(\s+)QueryStrings:\n" + "".join(r"\1  - " + d + r"\n" for d in LL_HLS_DIRECTIVES)
        self.assertRegex(text, block)

    def test_live_behaviors_sit_between_the_function_and_the_s3_behaviors(self):
        live = self.live_behaviors()
        prefixed = lambda suffix: {"Fn::Sub": "${LivePathPrefix}" + suffix}
        self.assertEqual([b["PathPattern"] for b in live], [prefixed("*.m3u8"), prefixed("*.mpd"), prefixed("*")])
        order = [b["PathPattern"] for b in self.behaviors()]
        position = lambda pattern: order.index(pattern)
        signer = [position({"Fn::Sub": "*${PlaylistSuffix}"}), position({"Fn::Sub": "*${MpdSuffix}"})]
        live_positions = [position(b["PathPattern"]) for b in live]
        s3 = [position("*.m3u8"), position("*.mpd")]
        self.assertLess(max(signer), min(live_positions), "live signed playlists must still reach the function")
        self.assertLess(max(live_positions), min(s3), "*.m3u8 and *.mpd would take live playlists to S3")
        self.assertEqual(live_positions, sorted(live_positions), "the live catch-all comes after its playlists")
        for b in live[:2]:
            self.assertEqual(b["CachePolicyId"], ref("LivePlaylistCachePolicy"), b["PathPattern"])
        self.assertEqual(live[2]["CachePolicyId"], CACHING_OPTIMIZED)
        for b in live:
            self.assertNotIn("FunctionAssociations", b)
            self.assertEqual(b["AllowedMethods"], ["GET", "HEAD"])

    def test_every_live_behavior_demands_a_signature(self):
        raw = self.distribution()["CacheBehaviors"]
        conditional = [b["Fn::If"] for b in raw if "Fn::If" in b]
        self.assertEqual(len(conditional), 3)
        for name, yes, no in conditional:
            self.assertEqual(name, "HasLiveOrigin")
            self.assertEqual(no, ref("AWS::NoValue"))
            self.assertEqual(yes.get("TrustedKeyGroups"), [ref("KeyGroup")], yes["PathPattern"])
            self.assertEqual(yes.get("ViewerProtocolPolicy"), "https-only", yes["PathPattern"])
            self.assertEqual(yes.get("ResponseHeadersPolicyId"), ref("ResponseHeadersPolicy"))
        config = self.resolved(LiveOriginDomain=LIVE_DOMAIN)["Distribution"]["Properties"]["DistributionConfig"]
        behaviors = [config["DefaultCacheBehavior"]] + config["CacheBehaviors"]
        self.assertEqual(len(behaviors), 8)
        for b in behaviors:
            self.assertEqual(b.get("TrustedKeyGroups"), [ref("KeyGroup")], b.get("PathPattern", "(default)"))

    def test_live_path_prefix_pattern(self):
        pattern = self.pattern("LivePathPrefix")
        for good in ["out/v1/", "live/", "a/b_c/d-e/v1.0/"]:
            self.assertTrue(pattern.fullmatch(good), good)
        for bad in ["/out/", "out", "*/", "out/*/", "", "/", "out//", "../", "./out/", "out/v1", "out /"]:
            self.assertFalse(pattern.fullmatch(bad), bad)
        self.assertTrue(pattern.fullmatch(self.t["Parameters"]["LivePathPrefix"]["Default"]))

    def test_live_origin_domain_pattern(self):
        pattern = self.pattern("LiveOriginDomain")
        for good in ["", "a.b.c", LIVE_DOMAIN, "localhost"]:
            self.assertTrue(pattern.fullmatch(good), good)
        for bad in ["https://x", "x/y", "x:443", "-x.y", "x..y", "x.y.", " x", "x y"]:
            self.assertFalse(pattern.fullmatch(bad), bad)

    def test_live_cdn_auth_secret_pattern(self):
        pattern = self.pattern("LiveCdnAuthSecretArn")
        for good in ["", LIVE_SECRET, "arn:aws-cn:secretsmanager:cn-north-1:111122223333:secret:x-AbCdEf"]:
            self.assertTrue(pattern.fullmatch(good), good)
        for bad in ["live-cdn-auth", "arn:aws:secretsmanager:us-east-1:111122223333:live", "arn:aws:s3:::bucket"]:
            self.assertFalse(pattern.fullmatch(bad), bad)


# ----------------------------------------------------------------- function --


class FunctionTest(TemplateCase):
    def test_runtime_and_build(self):
        res = self.resources["SignerFunction"]
        props = self.resource("SignerFunction", "AWS::Serverless::Function")
        self.assertEqual(props["Runtime"], "provided.al2023")
        self.assertEqual(props["Handler"], "bootstrap")
        self.assertEqual(res.get("Metadata", {}).get("BuildMethod"), "rust-cargolambda")
        self.assertEqual(res["Metadata"].get("BuildProperties", {}).get("Binary"), "hls-edge-signer")
        self.assertEqual(props["Architectures"], [ref("Architecture")])
        self.assertEqual(sorted(self.t["Parameters"]["Architecture"]["AllowedValues"]), ["arm64", "x86_64"])

    def test_function_url_demands_iam_auth(self):
        props = self.resource("SignerFunction", "AWS::Serverless::Function")
        self.assertEqual(props.get("FunctionUrlConfig", {}).get("AuthType"), "AWS_IAM")
        self.assertFalse(self.of_type("AWS::Lambda::Url"), "declare the URL through FunctionUrlConfig only")

    def test_only_cloudfront_for_this_distribution_may_invoke(self):
        permissions = self.of_type("AWS::Lambda::Permission")
        actions = {}
        for name, res in permissions.items():
            p = res["Properties"]
            self.assertEqual(p["Principal"], "cloudfront.amazonaws.com", name)
            self.assertEqual(p.get("SourceArn"), DISTRIBUTION_ARN, f"{name} must be scoped to this distribution")
            self.assertEqual(p["FunctionName"], ref("SignerFunction"), name)
            actions[p["Action"]] = p
        self.assertEqual(sorted(actions), ["lambda:InvokeFunction", "lambda:InvokeFunctionUrl"])
        self.assertEqual(actions["lambda:InvokeFunctionUrl"].get("FunctionUrlAuthType"), "AWS_IAM")

    def test_the_functions_only_permission_is_reading_the_signing_secret(self):
        props = self.resource("SignerFunction", "AWS::Serverless::Function")
        self.assertNotIn("Role", props, "a hand-made role would bypass this check")
        policies = as_list(props.get("Policies", []))
        self.assertEqual(len(policies), 1, "one inline policy, no managed policies or SAM policy templates")
        statements = as_list(policies[0]["Statement"])
        self.assertEqual(
            statements,
            [
                {
                    "Effect": "Allow",
                    "Action": "secretsmanager:GetSecretValue",
                    "Resource": ref("SigningKeySecretArn"),
                }
            ],
        )
        self.assertEqual(self.function_env()["HLS_SECRET_ID"], ref("SigningKeySecretArn"))

    def test_the_transformed_role_grants_nothing_else(self):
        try:
            from samtranslator.translator.transform import transform
        except ImportError:
            self.skipTest("aws-sam-translator (installed with cfn-lint) is not available")

        class NoManagedPolicies:
            def load(self):
                return {}

        template = copy.deepcopy(self.t)
        # The translator insists on an S3 CodeUri; `sam build` provides one.
        template["Resources"]["SignerFunction"]["Properties"]["CodeUri"] = "s3://bucket/key"
        os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
        out = transform(template, {}, NoManagedPolicies())["Resources"]
        roles = {k: v["Properties"] for k, v in out.items() if v["Type"] == "AWS::IAM::Role"}
        self.assertEqual(sorted(roles), ["SignerFunctionRole"])
        role = roles["SignerFunctionRole"]
        self.assertEqual(
            [re.sub(r"^arn:[^:]+:", "arn:*:", arn) for arn in role.get("ManagedPolicyArns", [])],
            ["arn:*:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"],
            "only the CloudWatch Logs basics besides the secret",
        )
        statements = [st for p in role.get("Policies", []) for st in as_list(p["PolicyDocument"]["Statement"])]
        self.assertEqual(
            statements,
            [{"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": ref("SigningKeySecretArn")}],
        )
        urls = [v["Properties"] for v in out.values() if v["Type"] == "AWS::Lambda::Url"]
        self.assertEqual([u["AuthType"] for u in urls], ["AWS_IAM"])
        principals = {v["Properties"]["Principal"] for v in out.values() if v["Type"] == "AWS::Lambda::Permission"}
        self.assertEqual(principals, {"cloudfront.amazonaws.com"}, "the transform added a permission")

    def test_the_function_trusts_every_key_of_the_key_group(self):
        env = self.function_env()
        self.assertEqual(
            env["HLS_TRUSTED_KEYS"],
            {
                "Fn::Join": [
                    ",",
                    [
                        {"Fn::If": ["HasKeyA", {"Fn::Sub": "${PublicKey}=${PublicKeyPem}"}, ""]},
                        {"Fn::If": ["HasKeyB", {"Fn::Sub": "${PublicKeyB}=${PublicKeyPemB}"}, ""]},
                    ],
                ]
            },
            "a grant signed with either slot's key must verify during a rotation",
        )
        group = self.resource("KeyGroup", "AWS::CloudFront::KeyGroup")["KeyGroupConfig"]["Items"]
        self.assertEqual(
            group,
            [
                {"Fn::If": ["HasKeyA", ref("PublicKey"), ref("AWS::NoValue")]},
                {"Fn::If": ["HasKeyB", ref("PublicKeyB"), ref("AWS::NoValue")]},
            ],
        )

    def test_environment_names_the_handler_reads(self):
        env = self.function_env()
        self.assertEqual(sorted(env), sorted(ENV_NAMES))
        self.assertEqual(env["HLS_GRANT_HEADER"], GRANT_HEADER)
        self.assertEqual(env["HLS_GRANT_COOKIE_HEADER"], COOKIE_HEADER)
        self.assertEqual(env["HLS_HOST_HEADER"], HOST_HEADER)
        self.assertEqual(env["HLS_KEY_PAIR_ID"], {"Fn::If": ["UseKeyB", ref("PublicKeyB"), ref("PublicKey")]})
        self.assertEqual(
            self.t["Parameters"]["SigningMode"]["AllowedValues"], ["canned", "wildcard", "directory", "propagate"]
        )
        self.assertEqual(self.t["Parameters"]["Ipv6Viewers"]["Default"], "refuse", "never silently unpinned")
        self.assertEqual(self.t["Parameters"]["IpPinning"]["Default"], "inherit")
        self.assertEqual(self.t["Parameters"]["SigningMode"]["Default"], "wildcard")
        self.assertEqual(self.t["Parameters"]["HashAlgorithm"]["AllowedValues"], ["sha1", "sha256"])
        self.assertEqual(self.t["Parameters"]["Delivery"]["AllowedValues"], ["rewrite", "cookies", "query"])
        self.assertEqual(self.t["Parameters"]["Delivery"]["Default"], "rewrite", "cookies widen: opt-in")
        self.assertEqual(env["HLS_DELIVERY"], ref("Delivery"))

    def test_cors_allows_credentials_only_for_named_origins(self):
        import re

        pattern = re.compile(self.t["Parameters"]["CorsOrigins"]["AllowedPattern"])
        for good in ["", "https://player.example.com", "http://127.0.0.1:8080"]:
            self.assertTrue(pattern.match(good), good)
        for bad in ["*", "https://*.example.com", "null", "https://a.example.com/path"]:
            self.assertFalse(pattern.match(bad), bad)
        props = self.resource("ResponseHeadersPolicy", "AWS::CloudFront::ResponseHeadersPolicy")
        cors = props["ResponseHeadersPolicyConfig"]["CorsConfig"]["Fn::If"][1]
        self.assertIs(cors["AccessControlAllowCredentials"], True)
        self.assertEqual(cors["AccessControlAllowOrigins"]["Items"], ref("CorsOrigins"))


# --------------------------------------------------- the CloudFront Function --


def cf_event(query=(), headers=None, host="d111111abcdef8.cloudfront.net", cookies=()):
    """A viewer-request event; query and cookies are lists of (name, value) in viewer order."""
    querystring = {}
    for name, value in query:
        if name in querystring:
            entry = querystring[name]
            entry.setdefault("multiValue", [{"value": entry["value"]}]).append({"value": value})
        else:
            querystring[name] = {"value": value}
    cookie_map = {}
    for name, value in cookies:
        if name in cookie_map:
            entry = cookie_map[name]
            entry.setdefault("multiValue", [{"value": entry["value"]}]).append({"value": value})
        else:
            cookie_map[name] = {"value": value}
    all_headers = {"host": {"value": host}, "accept": {"value": "*/*"}}
    for name, value in (headers or {}).items():
        all_headers[name] = {"value": value}
    return {
        "version": "1.0",
        "context": {"eventType": "viewer-request", "distributionId": "EDFDVBD6EXAMPLE"},
        "viewer": {"ip": "198.51.100.7"},
        "request": {
            "method": "GET",
            "uri": "/videos/index._m3u8",
            "querystring": querystring,
            "headers": all_headers,
            "cookies": cookie_map,
        },
    }


class ViewerGrantFunctionTest(TemplateCase):
    def test_runtime_and_publishing(self):
        props = self.resource("ViewerGrantFunction", "AWS::CloudFront::Function")
        self.assertEqual(props["FunctionConfig"]["Runtime"], "cloudfront-js-2.0")
        self.assertIs(props["AutoPublish"], True)
        self.assertLess(len(props["FunctionCode"].encode()), 10 * 1024, "CloudFront Functions are at most 10 KB")

    def test_code_strips_the_headers_a_viewer_could_forge(self):
        code = self.function_code()
        for header in (GRANT_HEADER, COOKIE_HEADER, HOST_HEADER):
            pattern = r"delete\s+request\.headers\[\s*['\"]" + re.escape(header) + r"['\"]\s*\]"
            self.assertRegex(code, pattern, f"the function must delete any incoming {header}")

    def run_function(self, events):
        node = shutil.which("node")
        if node is None:
            self.skipTest("node is not installed (apt-get install nodejs)")
        with tempfile.TemporaryDirectory() as tmp:
            code_file = Path(tmp) / "viewer-grant.js"
            code_file.write_text(self.function_code(), encoding="utf-8")
            proc = subprocess.run(
                [node, str(NODE_RUNNER), str(code_file)],
                input=json.dumps(events),
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
        self.assertEqual(proc.returncode, 0, proc.stderr)
        results = json.loads(proc.stdout)
        for r in results:
            self.assertNotIn("error", r, r.get("error"))
        return [r["result"] for r in results]

    def header(self, request, name):
        value = request["headers"].get(name)
        return None if value is None else value["value"]

    def test_forged_headers_are_removed(self):
        forged = {
            GRANT_HEADER: "Expires=4102444800&Signature=forged&Key-Pair-Id=KEVIL",
            COOKIE_HEADER: "CloudFront-Expires=4102444800; CloudFront-Signature=forged",
            HOST_HEADER: "evil.example",
        }
        (out,) = self.run_function([cf_event(headers=forged)])
        self.assertIsNone(self.header(out, GRANT_HEADER), "a viewer-supplied grant header survived")
        self.assertIsNone(self.header(out, COOKIE_HEADER), "a viewer-supplied cookie header survived")
        self.assertEqual(self.header(out, HOST_HEADER), "d111111abcdef8.cloudfront.net")

    def test_signed_query_is_copied_exactly(self):
        query = [
            ("Expires", "1767225600"),
            ("_HLS_msn", "12"),
            ("Signature", "Nql641NHEUkUaXQHZINK1FZ~SYeUSoBJMxjdgqrzIdzV2gyEXPDNv0pYdWJkflDKJ3xIu7lbwRpSkG98NBlgPi4ZJpRRnVX4kXAJK6tdNx6FucDB7OVqzcxkxHsGFd8VCG1BkC-Afh9~lOCMIYHIaiOB6~5jt9w2EOwi6sIIqrg_"),
            ("Key-Pair-Id", "K2JCJMDEHXQW5F"),
            ("foo", "bar"),
        ]
        forged = {GRANT_HEADER: "Expires=1&Signature=x&Key-Pair-Id=y"}
        (out,) = self.run_function([cf_event(query, headers=forged)])
        expected = "&".join(f"{n}={v}" for n, v in query if n in SIGNING_PARAMS)
        self.assertEqual(self.header(out, GRANT_HEADER), expected)
        self.assertEqual(self.header(out, HOST_HEADER), "d111111abcdef8.cloudfront.net")
        self.assertEqual(
            list(out["querystring"]),
            [n for n, _ in query],
            "the query string must reach CloudFront's own signature check unchanged",
        )

    def test_custom_policy_and_hash_algorithm_keep_the_viewers_order_and_encoding(self):
        query = [
            ("Policy", "eyJTdGF0ZW1lbnQiOlt7IlJlc291cmNlIjoiaHR0cHM6Ly9kMTExMTExYWJjZGVmOC5jbG91ZGZyb250Lm5ldC92aWRlb3MvKiJ9XX0_"),
            ("Hash-Algorithm", "SHA256"),
            ("Key-Pair-Id", "K2JCJMDEHXQW5F"),
            ("Signature", "abc%7Edef-_"),  # a player re-encoded "~"
        ]
        (out,) = self.run_function([cf_event(query)])
        self.assertEqual(self.header(out, GRANT_HEADER), "&".join(f"{n}={v}" for n, v in query))

    def test_unsigned_request_gets_no_grant_header(self):
        (out,) = self.run_function([cf_event([("foo", "bar"), ("expires", "1767225600")])])
        self.assertIsNone(self.header(out, GRANT_HEADER), "names are case-sensitive; nothing to copy here")
        self.assertEqual(self.header(out, HOST_HEADER), "d111111abcdef8.cloudfront.net")

    def test_repeated_parameters_are_all_copied(self):
        query = [("Expires", "1767225600"), ("Signature", "one"), ("Signature", "two"), ("Key-Pair-Id", "K1")]
        (out,) = self.run_function([cf_event(query)])
        self.assertEqual(self.header(out, GRANT_HEADER), "Expires=1767225600&Signature=one&Signature=two&Key-Pair-Id=K1")

    def test_signed_cookies_are_copied(self):
        cookies = [
            ("session", "abc"),
            ("CloudFront-Policy", "eyJTdGF0ZW1lbnQiOltdfQ__"),
            ("CloudFront-Signature", "abc~def-_"),
            ("CloudFront-Key-Pair-Id", "K2JCJMDEHXQW5F"),
        ]
        (out,) = self.run_function([cf_event([("foo", "bar")], cookies=cookies)])
        self.assertEqual(
            self.header(out, COOKIE_HEADER),
            "CloudFront-Policy=eyJTdGF0ZW1lbnQiOltdfQ__; CloudFront-Signature=abc~def-_; "
            "CloudFront-Key-Pair-Id=K2JCJMDEHXQW5F",
        )
        self.assertIsNone(self.header(out, GRANT_HEADER))

    def test_a_signed_url_wins_over_cookies(self):
        cookies = [("CloudFront-Expires", "1"), ("CloudFront-Signature", "x"), ("CloudFront-Key-Pair-Id", "K")]
        query = [("Expires", "1767225600"), ("Signature", "s"), ("Key-Pair-Id", "K2")]
        (out,) = self.run_function([cf_event(query, cookies=cookies)])
        self.assertEqual(self.header(out, GRANT_HEADER), "Expires=1767225600&Signature=s&Key-Pair-Id=K2")
        self.assertIsNone(self.header(out, COOKIE_HEADER), "CloudFront ignores cookies when the URL is signed")

    def test_a_cookie_value_cannot_smuggle_cookies(self):
        (out,) = self.run_function([cf_event(cookies=[("CloudFront-Signature", "a; CloudFront-Key-Pair-Id=EVIL")])])
        self.assertEqual(self.header(out, COOKIE_HEADER), "CloudFront-Signature=a%3B%20CloudFront-Key-Pair-Id=EVIL")

    def test_what_cannot_be_copied_is_refused_not_dropped(self):
        event = cf_event([("Key-Pair-Id", "K1")])
        event["request"]["querystring"]["Signature"] = {"multiValue": [None]}
        (out,) = self.run_function([event])
        self.assertEqual(out.get("statusCode"), 403, "a parsing problem must not turn into 'no grant'")

    def test_a_decoded_value_cannot_smuggle_parameters(self):
        (out,) = self.run_function([cf_event([("Policy", "a&Signature=b c#"), ("Key-Pair-Id", "K1")])])
        self.assertEqual(self.header(out, GRANT_HEADER), "Policy=a%26Signature=b%20c%23&Key-Pair-Id=K1")


if __name__ == "__main__":
    if not TEMPLATE.is_file():
        sys.exit(f"template_test.py: {TEMPLATE} not found")
    unittest.main(verbosity=2)
