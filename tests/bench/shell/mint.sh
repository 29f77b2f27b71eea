#!/usr/bin/env bash
# make bench, variant 5: an installation token the shell way: `aws kms sign`
# (awscli) signs the JWT, curl exchanges it at GitHub. Settings come from the
# same environment the component reads; the token is printed alone on stdout.
set -euo pipefail

base64url() { base64 -w0 | tr '+/' '-_' | tr -d '='; }

now=$(date +%s)
header=$(printf '{"alg":"RS256","typ":"JWT"}' | base64url)
claims=$(printf '{"iat":%d,"exp":%d,"iss":%s}' $((now - 60)) $((now + 540)) "$APP_ID" | base64url)
input="$header.$claims"

signature=$(printf '%s' "$input" | aws kms sign \
  --endpoint-url "$AWS_ENDPOINT_URL_KMS" --region "$AWS_REGION" --key-id "$KMS_KEY_ID" \
  --message fileb:///dev/stdin --message-type RAW \
  --signing-algorithm RSASSA_PKCS1_V1_5_SHA_256 \
  --query Signature --output text)
jwt="$input.$(printf '%s' "$signature" | base64 -d | base64url)"

curl --silent --show-error --fail -X POST \
  -H "Accept: application/vnd.github+json" \
  -H "Authorization: Bearer $jwt" \
  -H "User-Agent: bench-shell" \
  -H "X-GitHub-Api-Version: 2022-11-28" \
  --data '{}' \
  "$GITHUB_API_URL/app/installations/$INSTALLATION_ID/access_tokens" | jq -r .token
