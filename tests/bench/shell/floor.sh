#!/usr/bin/env bash
# make bench, variant 6, the floor: the two HTTP round trips no implementation
# can avoid, with curl, to the same stand-ins: a SigV4-signed KMS `Sign`
# (curl signs it) and GitHub's access_tokens with a JWT made beforehand
# ($JWT). Prints curl's own time_total of each request, in seconds.
set -euo pipefail

message=$(printf '%s' "$SIGNING_INPUT" | base64 -w0)
curl --silent --show-error --fail --output /dev/null --write-out '%{time_total}\n' \
  --aws-sigv4 "aws:amz:$AWS_REGION:kms" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
  -H "X-Amz-Security-Token: $AWS_SESSION_TOKEN" \
  -H "Content-Type: application/x-amz-json-1.1" \
  -H "X-Amz-Target: TrentService.Sign" \
  --data "{\"KeyId\":\"$KMS_KEY_ID\",\"Message\":\"$message\",\"MessageType\":\"RAW\",\"SigningAlgorithm\":\"RSASSA_PKCS1_V1_5_SHA_256\"}" \
  "$AWS_ENDPOINT_URL_KMS/"
curl --silent --show-error --fail --output /dev/null --write-out '%{time_total}\n' -X POST \
  -H "Accept: application/vnd.github+json" \
  -H "Authorization: Bearer $JWT" \
  -H "User-Agent: bench-floor" \
  -H "X-GitHub-Api-Version: 2022-11-28" \
  --data '{}' \
  "$GITHUB_API_URL/app/installations/$INSTALLATION_ID/access_tokens"
