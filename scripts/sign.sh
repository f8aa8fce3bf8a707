#!/usr/bin/env bash
# Prints a signed URL for a deployed master playlist, ready for a player.
# The path should end in ._m3u8 (the function's suffix): CloudFront sends it
# to the function, which signs every URI inside the playlist.
set -euo pipefail

usage() {
  cat >&2 <<'EOF'
usage: scripts/sign.sh --domain DOMAIN --path STREAM_PATH --key-pair-id ID
                       (--key FILE | --secret SECRET_ID [--region REGION])
                       [--ttl SECS] [--resource PATTERN] [--suffix SUFFIX]

  --domain       the stack's DistributionDomainName (or your alternate domain)
  --path         master playlist in the bucket, with the function's suffix,
                 e.g. videos/intro/index._m3u8
  --key-pair-id  the stack's KeyPairId output
  --key          the private key PEM file, or
  --secret       the secret holding it (SecretArn output); read with the AWS
                 CLI into a private temporary file, removed on exit
  --ttl          lifetime in seconds (default 3600)
  --resource     custom-policy resource, e.g. 'https://DOMAIN/videos/intro/*'
                 (default: a canned policy for the URL itself)
  --suffix       the PlaylistSuffix parameter (default ._m3u8)

Environment: HLS_SIGN=path to the hls-sign binary (default target/release/hls-sign).
EOF
  exit 2
}

die() { echo "sign.sh: $*" >&2; exit 2; }

domain="" stream_path="" key_pair_id="" key_file="" secret_id="" region="" ttl=3600
resource="" suffix="._m3u8"
while [ $# -gt 0 ]; do
  case "$1" in
    --domain) domain=${2:-}; shift 2 || usage ;;
    --path) stream_path=${2:-}; shift 2 || usage ;;
    --key-pair-id) key_pair_id=${2:-}; shift 2 || usage ;;
    --key) key_file=${2:-}; shift 2 || usage ;;
    --secret) secret_id=${2:-}; shift 2 || usage ;;
    --region) region=${2:-}; shift 2 || usage ;;
    --ttl) ttl=${2:-}; shift 2 || usage ;;
    --resource) resource=${2:-}; shift 2 || usage ;;
    --suffix) suffix=${2:-}; shift 2 || usage ;;
    -h|--help) usage ;;
    *) echo "sign.sh: unknown argument: $1" >&2; usage ;;
  esac
done

[ -n "$domain" ] || die "--domain is required (the DistributionDomainName output)"
[ -n "$stream_path" ] || die "--path is required (e.g. videos/intro/index$suffix)"
[ -n "$key_pair_id" ] || die "--key-pair-id is required (the KeyPairId output)"
if [ -n "$key_file" ] && [ -n "$secret_id" ]; then die "give --key or --secret, not both"; fi
[ -n "$key_file" ] || [ -n "$secret_id" ] || die "give --key FILE or --secret SECRET_ID"
case "$ttl" in ''|*[!0-9]*) die "--ttl must be a number of seconds" ;; esac
domain=${domain#https://}
domain=${domain%/}
case "$domain" in */*|*' '*) die "--domain must be a host name, not a URL: $domain" ;; esac
stream_path=${stream_path#/}
case "$stream_path" in
  *"$suffix") ;;
  *) die "$stream_path does not end in $suffix: only those playlists go through the function (rename index.m3u8 to index$suffix in the URL, not in the bucket)" ;;
esac

hls_sign=${HLS_SIGN:-target/release/hls-sign}
[ -x "$hls_sign" ] || die "$hls_sign is not executable (run 'make build', or set HLS_SIGN)"

if [ -n "$secret_id" ]; then
  command -v aws >/dev/null || die "the AWS CLI is required for --secret"
  command -v python3 >/dev/null || die "python3 is required for --secret"
  umask 077
  workdir=$(mktemp -d "${TMPDIR:-/tmp}/hls-sign.XXXXXX")
  cleanup() {
    if command -v shred >/dev/null; then
      find "$workdir" -type f -exec shred -u {} + 2>/dev/null || true
    fi
    rm -rf "$workdir"
  }
  trap cleanup EXIT
  region_args=()
  if [ -n "$region" ]; then region_args=(--region "$region"); fi
  aws secretsmanager get-secret-value ${region_args[@]+"${region_args[@]}"} --secret-id "$secret_id" \
    --query SecretString --output text >"$workdir/secret"
  # The secret is {"private_key": "<PEM>"} (scripts/keys.sh) or a bare PEM.
  python3 - "$workdir/secret" "$workdir/private.pem" <<'EOF'
import json, sys
text = open(sys.argv[1], encoding="utf-8").read()
try:
    value = json.loads(text)
except ValueError:
    value = text
if isinstance(value, dict):
    value = value.get("private_key", "")
if not isinstance(value, str) or "PRIVATE KEY-----" not in value:
    sys.exit("sign.sh: the secret holds no private_key PEM")
open(sys.argv[2], "w", encoding="ascii").write(value)
EOF
  key_file="$workdir/private.pem"
fi
[ -r "$key_file" ] || die "cannot read $key_file"

args=(url "https://$domain/$stream_path" --key "$key_file" --key-pair-id "$key_pair_id" --ttl "$ttl")
if [ -n "$resource" ]; then args+=(--resource "$resource"); fi
"$hls_sign" "${args[@]}"
