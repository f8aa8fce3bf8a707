#!/usr/bin/env python3
"""Prints the `make bench` table from one run's measurements.

Reads criterion's estimates (target/criterion/<group>/<bench>/new/estimates.json)
and `openssl speed` output captured in the same run, and prints each backend's
per-signature time beside OpenSSL's with the ratio.
"""
import json
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
CRITERION = ROOT / "target" / "criterion"


def criterion_ns(group, bench):
    path = CRITERION / group / bench / "new" / "estimates.json"
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    return data["mean"]["point_estimate"]


def openssl_sign_seconds(text, algorithm):
    """Sign time per operation from `openssl speed` summary lines."""
    # Columns: sign time, verify time, sign/s, verify/s. The time columns are
    # rounded to 0.0000s for fast algorithms, so use the rate.
    if algorithm == "rsa2048":
        m = re.search(r"^rsa\s+2048 bits\s+[\d.]+s\s+[\d.]+s\s+([\d.]+)", text, re.M)
    else:
        m = re.search(r"^\s*256 bits ecdsa \(nistp256\)\s+[\d.]+s\s+[\d.]+s\s+([\d.]+)", text, re.M)
    return 1.0 / float(m.group(1)) if m else None


def main():
    openssl_text = pathlib.Path(sys.argv[1]).read_text() if len(sys.argv) > 1 else ""
    rsa_ref = openssl_sign_seconds(openssl_text, "rsa2048")
    ec_ref = openssl_sign_seconds(openssl_text, "ecdsap256")
    rows = [
        ("aws-lc-rsa2048-sha1", rsa_ref, "openssl rsa2048"),
        ("aws-lc-rsa2048-sha256", rsa_ref, "openssl rsa2048"),
        ("rsa-crate-rsa2048-sha1", rsa_ref, "openssl rsa2048"),
        ("aws-lc-ecdsa-p256-sha256", ec_ref, "openssl ecdsap256"),
    ]
    print()
    print("Signing: per-signature time, this run")
    print(f"{'backend':<28}{'time':>12}{'reference':>20}{'ref time':>12}{'ratio':>8}")
    for bench, ref, ref_name in rows:
        ns = criterion_ns("sign", bench)
        if ns is None:
            print(f"{bench:<28}{'(not run)':>12}")
            continue
        ref_text = f"{ref * 1e6:.1f} us" if ref else "n/a"
        ratio = f"{ns / (ref * 1e9):.2f}x" if ref else "n/a"
        print(f"{bench:<28}{ns / 1000:>9.1f} us{ref_name:>20}{ref_text:>12}{ratio:>8}")
    print("target: aws-lc RSA <= 1.30x openssl rsa2048")
    print_rewrite(ROOT / "target" / "bench-rewrite")
    print_mpd(ROOT / "target" / "bench-rewrite")
    print_delivery(ROOT / "target" / "bench-rewrite")
    print_load(ROOT / "target" / "bench-load" / "load.json")
    print_lambda(ROOT / "target" / "bench-rewrite" / "lambda.json")
    print_manifest(ROOT / "target" / "bench-rewrite" / "manifest.json")


def print_load(path):
    """Requests/s, latency and memory of the bounded load runs on the chain."""
    if not path.exists():
        print("\nLoad over the deployed chain: not run (wrk or node missing)")
        return
    data = json.loads(path.read_text())
    print()
    print("Load over the deployed chain (emulator + CloudFront Function + function; wrk,")
    print("loopback, 2 threads x 32 connections), this run")
    print(f"{'request':<34}{'requests':>10}{'req/s':>10}{'p50':>10}{'p99':>10}{'failed':>8}")
    names = {
        "segment": "signed segment (~150 KB .ts)",
        "key": "signed AES key (16 B)",
        "manifest": "signed master playlist (rewritten)",
    }
    for kind, name in names.items():
        row = data.get(kind)
        if not row:
            continue
        print(
            f"{name:<34}{row['requests']:>10}{row['rps']:>10.0f}"
            f"{row['p50_ms']:>8.2f}ms{row['p99_ms']:>8.2f}ms{row['errors']:>8}"
        )
    if "rss_before_mib" in data:
        print(f"  RSS (emulator + CloudFront Function runner): {data['rss_before_mib']:.1f} MiB "
              f"before, {data['rss_after_mib']:.1f} MiB after")
    print("targets: >= 20k playlist and segment requests, 0 failed")


def print_lambda(path):
    """Cold start, warm request time and peak memory of the Lambda binary."""
    if not path.exists():
        return
    d = json.loads(path.read_text())
    print()
    print("Lambda bootstrap (local Runtime API, function-URL events, 1000-segment playlist), this run")
    print(f"  init (start to ready, key loaded): {d['init_ms']:.1f} ms; "
          f"start to first response: {d['cold_ms']:.1f} ms (medians of {d['runs']})")
    print(f"  warm request, event in -> response out: {d['warm_ms']:.2f} ms median, "
          f"{d['warm_p99_ms']:.2f} ms p99 ({d['warm_events']} events)")
    print(f"  peak RSS: {d['peak_rss_mib']:.1f} MiB")
    print("targets: init <= 15 ms, first response <= 20 ms, warm <= 2 ms, RSS <= 24 MiB")


def print_manifest(path):
    """`hls-sign manifest` as a whole process."""
    if not path.exists():
        return
    d = json.loads(path.read_text())
    print()
    print("hls-sign manifest, whole process, 1000-segment playlist (RSA key), this run")
    for mode, row in d.items():
        print(f"  {mode:<10} {row['median_ms']:.1f} ms median, {row['p90_ms']:.1f} ms p90 ({row['runs']} runs)")
    print("target: <= 8 ms")


def node_ms(directory, n):
    path = directory / f"node-{n}.json"
    if not path.exists():
        return None, None
    data = json.loads(path.read_text())
    return data["ms_per_rewrite"], data["output_bytes"]


def print_rewrite(directory):
    """Rewrite time per playlist size and mode, beside the Node baseline."""
    sizes_path = directory / "sizes.json"
    sizes = json.loads(sizes_path.read_text()) if sizes_path.exists() else {}
    print()
    print("Playlist rewrite (media playlist: key + map + N segments), this run")
    print(
        f"{'mode':<10}{'N':>6}{'cold':>12}{'warm':>12}{'per URI warm':>14}"
        f"{'bytes in':>10}{'bytes out':>11}{'signatures':>11}{'node':>12}{'node/cold':>11}"
    )
    for n in (10, 100, 1000, 10000):
        node, node_bytes = node_ms(directory, n)
        for mode in ("canned", "wildcard", "directory", "propagate"):
            cold = criterion_ns("rewrite", f"{mode}-cold/{n}")
            warm = criterion_ns("rewrite", f"{mode}-warm/{n}")
            size = sizes.get(f"{mode}-{n}", [None, None, None])
            cells = [
                fmt_ns(cold),
                fmt_ns(warm),
                fmt_ns(warm / (n + 2) if warm else None),
                str(size[0] or "-"),
                str(size[1] or "-"),
                str(size[2] if len(size) > 2 and size[2] is not None else "-"),
                f"{node:.1f} ms" if node else "-",
                f"{node * 1e6 / cold:.0f}x" if node and cold else "-",
            ]
            print(
                f"{mode:<10}{n:>6}{cells[0]:>12}{cells[1]:>12}{cells[2]:>14}"
                f"{cells[3]:>10}{cells[4]:>11}{cells[5]:>11}{cells[6]:>12}{cells[7]:>11}"
            )
        if node_bytes:
            print(f"{'':<16}node baseline output: {node_bytes} bytes (segments only, canned)")
    print(
        "targets: wildcard N=1000 cold <= 2 ms, warm <= 0.5 ms, >= 800x node; "
        "canned per URI ~ one RSA signature"
    )


def print_mpd(directory):
    """MPD rewrite time and size per document and mode, beside the HLS table."""
    sizes_path = directory / "mpd-sizes.json"
    sizes = json.loads(sizes_path.read_text()) if sizes_path.exists() else {}
    print()
    print("MPD rewrite (2-hour SegmentTemplate, 2-hour SegmentTimeline, 1000-entry SegmentList), this run")
    print(
        f"{'document':<13}{'mode':<11}{'cold':>12}{'warm':>12}"
        f"{'bytes in':>10}{'bytes out':>11}{'signatures':>11}{'URIs':>7}"
    )
    for name in ("template-2h", "timeline-2h", "list-1000"):
        for mode in ("wildcard", "canned", "directory"):
            cold = criterion_ns("rewrite-mpd", f"{mode}-cold/{name}")
            warm = criterion_ns("rewrite-mpd", f"{mode}-warm/{name}")
            size = sizes.get(f"{mode}-{name}", [None, None, None, None])
            cells = [fmt_ns(cold), fmt_ns(warm)] + [
                "-" if v is None else str(v) for v in size
            ]
            if cold is None and mode == "canned" and name == "list-1000":
                cells[0] = "1 RSA/entry"
            print(
                f"{name:<13}{mode:<11}{cells[0]:>12}{cells[1]:>12}"
                f"{cells[2]:>10}{cells[3]:>11}{cells[4]:>11}{cells[5]:>7}"
            )


def print_delivery(directory):
    """Per reload of a 1000-segment live window (100 reloads), per delivery."""
    sizes_path = directory / "delivery.json"
    sizes = json.loads(sizes_path.read_text()) if sizes_path.exists() else {}
    print()
    print("Deliveries: a 1000-segment live window reloaded 100 times (warm instance), this run")
    print(
        f"{'delivery':<18}{'time/reload':>13}{'vs rewrite':>12}{'bytes raw':>11}"
        f"{'gzip':>8}{'cookies':>9}{'wire':>8}{'signatures':>12}"
    )
    base = criterion_ns("delivery", "rewrite-wildcard_100-reloads")
    for name in ("rewrite-wildcard", "rewrite-canned", "cookies", "define"):
        ns = criterion_ns("delivery", f"{name}_100-reloads")
        raw, gz, cookies, signatures = sizes.get(name, [None] * 4)
        per = ns / 100 if ns else None
        ratio = f"{ns / base:.2f}x" if ns and base else "-"
        wire = gz + cookies if gz is not None else None
        print(
            f"{name:<18}{fmt_ns(per):>13}{ratio:>12}{raw if raw is not None else '-':>11}"
            f"{gz if gz is not None else '-':>8}{cookies if cookies is not None else '-':>9}"
            f"{wire if wire is not None else '-':>8}{signatures if signatures is not None else '-':>12}"
        )
    print("define: the same bytes for every viewer of a key; cookies: the origin's bytes")


def fmt_ns(ns):
    if ns is None:
        return "-"
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    return f"{ns / 1e3:.1f} us"


if __name__ == "__main__":
    main()
