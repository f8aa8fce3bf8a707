#!/usr/bin/env bash
# Makes a CloudFront signing key pair and stores the private key in AWS Secrets
# Manager as {"private_key": "<PEM>"}. Prints the secret's ARN (template
# parameter SigningKeySecretArn) and the public key (PublicKeyPem). The private
# key never touches the disk outside a private temporary directory, and is
# shredded when the script ends.
set -euo pipefail

usage() {
  cat >&2 <<'EOF'
usage: scripts/keys.sh [rsa|ecdsa] SECRET_NAME [REGION]

  rsa      RSA-2048 (default; every CloudFront signer supports it)
  ecdsa    ECDSA P-256 (shorter signatures, always SHA-256)
  SECRET_NAME  Secrets Manager secret to create, or to give a new value
  REGION       AWS region of the secret (default: the AWS CLI's region)

Environment: PUBLIC_KEY_OUT=FILE also writes the public key PEM to FILE.
EOF
  exit 2
}

die() { echo "keys.sh: $*" >&2; exit 2; }

algorithm=rsa
case "${1:-}" in
  rsa|ecdsa) algorithm=$1; shift ;;
  -h|--help|"") usage ;;
esac
if [ $# -lt 1 ] || [ $# -gt 2 ]; then usage; fi
secret_name=$1
region_args=()
if [ -n "${2:-}" ]; then
  # Also catches a mistyped algorithm taken for the secret name.
  [[ $2 =~ ^[a-z]{2}(-[a-z]+)+-[0-9]+$ ]] || die "not an AWS region: $2 (algorithm is rsa or ecdsa)"
  region_args=(--region "$2")
fi
case "$secret_name" in
  -*|*[!A-Za-z0-9/_+=.@-]*) die "invalid secret name: $secret_name" ;;
esac

for tool in openssl aws python3; do
  command -v "$tool" >/dev/null || die "$tool is required but not installed"
done

umask 077
workdir=$(mktemp -d "${TMPDIR:-/tmp}/hls-keys.XXXXXX")
cleanup() {
  if command -v shred >/dev/null; then
    find "$workdir" -type f -exec shred -u {} + 2>/dev/null || true
  fi
  rm -rf "$workdir"
}
trap cleanup EXIT

private="$workdir/private.pem"
public="$workdir/public.pem"
secret_json="$workdir/secret.json"

case "$algorithm" in
  rsa) keyopts=(-algorithm RSA -pkeyopt rsa_keygen_bits:2048) ;;
  ecdsa) keyopts=(-algorithm EC -pkeyopt ec_paramgen_curve:P-256) ;;
esac
openssl genpkey "${keyopts[@]}" -out "$private" 2>"$workdir/openssl.log" ||
  { cat "$workdir/openssl.log" >&2; die "openssl could not generate the key"; }
openssl pkey -in "$private" -pubout -out "$public"

python3 - "$private" "$secret_json" <<'EOF'
import json, sys
with open(sys.argv[1], encoding="ascii") as key, open(sys.argv[2], "w", encoding="ascii") as out:
    json.dump({"private_key": key.read()}, out)
EOF

# The secret value goes through a file, never the command line.
if aws secretsmanager describe-secret ${region_args[@]+"${region_args[@]}"} --secret-id "$secret_name" >/dev/null 2>&1; then
  aws secretsmanager put-secret-value ${region_args[@]+"${region_args[@]}"} --secret-id "$secret_name" \
    --secret-string "file://$secret_json" >/dev/null
  arn=$(aws secretsmanager describe-secret ${region_args[@]+"${region_args[@]}"} --secret-id "$secret_name" \
    --query ARN --output text)
  echo "Updated secret (new version): $secret_name" >&2
else
  arn=$(aws secretsmanager create-secret ${region_args[@]+"${region_args[@]}"} --name "$secret_name" \
    --description "CloudFront signing key for hls-edge-signer ($algorithm)" \
    --secret-string "file://$secret_json" --query ARN --output text)
  echo "Created secret: $secret_name" >&2
fi

if [ -n "${PUBLIC_KEY_OUT:-}" ]; then
  (umask 022 && cp "$public" "$PUBLIC_KEY_OUT")
  echo "Public key written to $PUBLIC_KEY_OUT" >&2
fi

echo "SigningKeySecretArn=$arn"
echo
echo "Public key (template parameter PublicKeyPem):"
cat "$public"
echo
echo "The same on one line, for sam deploy --parameter-overrides:"
printf 'PublicKeyPem="%s"\n' "$(awk '{printf "%s\\n", $0}' "$public")"
