#!/usr/bin/env python3
"""Regenerates the grants in the sample events (events/*.json).

The function refuses requests whose grant does not verify, so the sample
events carry real signatures: made here with a throwaway RSA key whose
private half is deleted at the end. Only its public key is kept, in
events/sample-events-public.pem (key pair id KSAMPLEEVENTS); give it to the
function as a trusted key to invoke the events locally, e.g.

    hls-sign invoke events/function-url.json --origin-dir events/origin \\
        --key .dev/private.pem --key-pair-id KDEVELOPMENT \\
        --public-key KSAMPLEEVENTS=events/sample-events-public.pem

The grants expire on 2100-01-01, so the events keep working; they are
worthless anywhere else, since no distribution trusts that key.

usage: scripts/make-events.py HLS_SIGN_BINARY
"""

import json
import os
import subprocess
import sys
import tempfile

DIST = "d111111abcdef8.cloudfront.net"
KEY_PAIR_ID = "KSAMPLEEVENTS"
EXPIRES = "4102444800"  # 2100-01-01T00:00:00Z
EVENTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "events")


def run(binary, *args):
    return subprocess.run([binary, *args], check=True, capture_output=True, text=True).stdout


def query_of(signed_url):
    return signed_url.strip().split("?", 1)[1]


def load(name):
    with open(os.path.join(EVENTS, name)) as f:
        return json.load(f)


def save(name, event):
    with open(os.path.join(EVENTS, name), "w") as f:
        json.dump(event, f, indent=2)
        f.write("\n")


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    binary = sys.argv[1]
    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o700)
        private = os.path.join(tmp, "private.pem")
        public = os.path.join(EVENTS, "sample-events-public.pem")
        run(binary, "keygen", "--algorithm", "rsa", "--force",
            "--private-out", private, "--public-out", public)
        sign = ["--key", private, "--key-pair-id", KEY_PAIR_ID, "--expires", EXPIRES]

        def canned(path):
            return query_of(run(binary, "url", f"https://{DIST}{path}", *sign))

        def custom(path, resource):
            url = f"https://{DIST}{path}"
            return query_of(run(binary, "url", url, "--resource", resource, *sign))

        videos = f"https://{DIST}/videos/*"

        def set_query(name, query, uri=None):
            event = load(name)
            request = event["Records"][0]["cf"]["request"]
            request["querystring"] = query
            if uri:
                request["uri"] = uri
            save(name, event)

        # Lambda@Edge events: the grant in the query, as CloudFront sees it.
        set_query("viewer-request-master.json", canned("/videos/index._m3u8"))
        set_query("viewer-request-media.json",
                  custom("/videos/hd/index._m3u8", videos) + "&_HLS_msn=3")
        set_query("viewer-request-segment.json", canned("/videos/hd/segment-00001.ts"))
        set_query("origin-request.json", custom("/videos/sd/index._m3u8", videos))

        # Function-URL events: CloudFront stripped the query's grant; the
        # CloudFront Function copied it (or the cookies) into headers.
        master_grant = canned("/videos/index._m3u8")
        for name, headers in [
            ("function-url.json", {"x-hls-viewer-grant": master_grant}),
            ("function-url-cookies.json", {"x-hls-viewer-cookies": None}),
            ("function-url-no-grant.json", {}),
        ]:
            event = load("function-url.json") if name != "function-url.json" else load(name)
            for header in ("x-hls-viewer-grant", "x-hls-viewer-cookies"):
                event["headers"].pop(header, None)
            for header, value in headers.items():
                if value is None:
                    cookies = json.loads(run(binary, "cookies", "--resource", videos,
                                             "--json", *sign))
                    value = "; ".join(f"{k}={v}" for k, v in cookies.items())
                event["headers"][header] = value
            save(name, event)


if __name__ == "__main__":
    main()
