#!/usr/bin/env bash
# Runs the component to mint an installation token and writes the step outputs.
# Inputs arrive as environment variables (see action.yml); the runner provides
# ACTIONS_ID_TOKEN_REQUEST_URL/_TOKEN when the job has `id-token: write`.
set -euo pipefail

action_dir="${GITHUB_ACTION_PATH:?GITHUB_ACTION_PATH is required}"
wasm="$action_dir/github-app-kms-token.wasm"
if [ ! -f "$wasm" ]; then
  if [ -z "${COMPONENT_URL:-}" ] || [ -z "${COMPONENT_SHA256:-}" ]; then
    echo "::error::no github-app-kms-token.wasm beside the action: put it there, or give component-url and component-sha256"
    exit 1
  fi
  wasm="${RUNNER_TEMP:-/tmp}/github-app-kms-token.wasm"
  curl --fail --silent --show-error --location --retry 3 --output "$wasm" "$COMPONENT_URL"
  if [ "$(sha256sum "$wasm" | cut -d' ' -f1)" != "$COMPONENT_SHA256" ]; then
    echo "::error::checksum mismatch for $COMPONENT_URL"
    exit 1
  fi
fi
echo "GITHUB_APP_KMS_TOKEN_WASM=$wasm" >> "${GITHUB_ENV:?GITHUB_ENV is required}"

# Variables are passed by name (`--env NAME`), so no value, secret or not,
# appears on a command line.
args=(run -S http)
for name in APP_ID KMS_KEY_ID AWS_REGION AWS_DEFAULT_REGION \
  AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN \
  AWS_ROLE_ARN ROLE_TO_ASSUME AWS_ROLE_SESSION_NAME ROLE_SESSION_NAME \
  ACTIONS_ID_TOKEN_REQUEST_URL ACTIONS_ID_TOKEN_REQUEST_TOKEN STS_AUDIENCE \
  AWS_ENDPOINT_URL AWS_ENDPOINT_URL_KMS AWS_ENDPOINT_URL_STS TOKEN_TIMEOUT_SECONDS \
  INSTALLATION_ID OWNER REPOSITORIES GITHUB_API_URL GITHUB_REPOSITORY GITHUB_REPOSITORY_OWNER \
  GITHUB_RUN_ID GITHUB_RUN_ATTEMPT; do
  if [ -n "${!name:-}" ]; then
    args+=(--env "$name")
  fi
done

flags=(token --format json)
while IFS= read -r line; do
  line="${line//[[:space:]]/}"
  [ -z "$line" ] && continue
  flags+=(--permission "$line")
done <<< "${PERMISSIONS:-}"

json="$(wasmtime "${args[@]}" "$wasm" "${flags[@]}")"
token="$(jq -r .token <<< "$json")"
echo "::add-mask::$token"
{
  echo "token=$token"
  echo "installation-id=$(jq -r .installation_id <<< "$json")"
  echo "app-slug=$(jq -r '.app_slug // ""' <<< "$json")"
  echo "expires-at=$(jq -r .expires_at <<< "$json")"
} >> "${GITHUB_OUTPUT:?GITHUB_OUTPUT is required}"
echo "minted a token for installation $(jq -r .installation_id <<< "$json"), expiring $(jq -r .expires_at <<< "$json")"
