// The Action's translation layer: inputs into `issuer` requests, the
// component's errors into messages that name the input at fault, and the
// environment the component may see. Nothing here decides anything the
// component decides: it validates, signs, mints, revokes and words errors.

import * as core from "@actions/core";
import { _setEnv } from "@bytecodealliance/preview2-shim/cli";

import { issuer } from "../build/github-app-kms-token.js";
import { COMPONENT_ENV, FIELD_INPUTS, LEVELS, LEVELS_RULE } from "./generated.js";

/** The inputs that set one of the component's variables. */
const VARIABLE_INPUTS = {
  "role-to-assume": "AWS_ROLE_ARN",
  "role-session-name": "AWS_ROLE_SESSION_NAME",
  audience: "STS_AUDIENCE",
  "gcp-workload-identity-provider": "GCP_WORKLOAD_IDENTITY_PROVIDER",
  "gcp-service-account": "GOOGLE_SERVICE_ACCOUNT",
  "azure-tenant-id": "AZURE_TENANT_ID",
  "azure-client-id": "AZURE_CLIENT_ID",
  "vault-addr": "VAULT_ADDR",
  "vault-role": "VAULT_ROLE",
  "vault-namespace": "VAULT_NAMESPACE",
};

/** An input's fault: reported as `Input NAME: WHY`, with nothing sent. */
export class InputError extends Error {
  constructor(input, why) {
    super(`Input ${input}: ${why}`);
  }
}

/** The component's `issuer` interface, seeing only the variables it reads
 * that the job's environment may set (`COMPONENT_ENV`, generated from the
 * component's own list) and `extra` (the variables the inputs set); the
 * shim would hand it the whole `process.env` otherwise. */
export function component(extra = {}) {
  const env = Object.fromEntries(
    COMPONENT_ENV.filter((name) => process.env[name]).map((name) => [name, process.env[name]]),
  );
  _setEnv({ ...env, ...extra });
  return issuer;
}

/** `a, b` or one a line, as a list; blanks dropped. */
export function list(text) {
  return text
    .split(/[\n,]/)
    .map((item) => item.trim())
    .filter((item) => item !== "");
}

/** `text` without control characters (C0, DEL, C1, and the Unicode line
 * and paragraph separators): nothing printed or output can start a line of
 * the log, let alone a workflow command, or span several lines of an output. */
export function clean(text) {
  return String(text).replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, "");
}

/** A boolean input, as the official action reads it; a bad value is an
 * input's fault, found before anything is sent. */
export function boolean(name) {
  try {
    return core.getBooleanInput(name);
  } catch {
    throw new InputError(name, "must be true or false");
  }
}

/** An optional input: `undefined` when empty (the WIT `none`). */
export function optional(name) {
  return core.getInput(name) || undefined;
}

/** The `permission-*` inputs that are set, as the WIT's permissions. */
function permissions() {
  const prefix = "INPUT_PERMISSION-";
  return Object.keys(process.env)
    .filter((key) => key.startsWith(prefix) && process.env[key].trim() !== "")
    .sort()
    .map((key) => {
      const input = key.slice("INPUT_".length).toLowerCase();
      const access = process.env[key].trim();
      if (!LEVELS.includes(access)) {
        throw new InputError(input, `${LEVELS_RULE}, not ${JSON.stringify(access)}`);
      }
      return { name: input.slice("permission-".length).replaceAll("-", "_"), access };
    });
}

/** The inputs as `token-request`s (one per owner) and the owners, with the
 * variables the credential inputs set and whether post is to revoke. Every
 * input is read and checked here, before anything is sent. As the official
 * action: no owner and no repositories is the current repository alone;
 * repositories without an owner are the current owner's; `enterprise` is
 * the App's installation on an enterprise. Several owners (one a line) each
 * get a token, from one signature, each scoped to its own of the full
 * names (`owner/repo`) in `repositories`: the component shares them out. */
export function requests() {
  const revoke = !boolean("skip-token-revoke");
  const clientId = core.getInput("client-id");
  const appId = core.getInput("app-id");
  if (Boolean(clientId) === Boolean(appId)) {
    throw new InputError("client-id", "give exactly one of client-id and app-id");
  }
  const key = optional("key");
  const kmsKeyId = optional("kms-key-id");
  if (!key && !kmsKeyId) {
    throw new InputError(
      "key",
      "is required: a key reference such as awskms:///alias/NAME, gcpkms://projects/…, azurekms://VAULT.vault.azure.net/NAME or hashivault://NAME",
    );
  }
  const owners = list(core.getInput("owner"));
  const repositories = list(core.getInput("repositories"));
  const enterprise = core.getInput("enterprise");
  if (enterprise && (owners.length > 0 || repositories.length > 0)) {
    const other = owners.length > 0 ? "owner" : "repositories";
    throw new InputError("enterprise", `cannot be combined with ${other}: an enterprise's token is for the enterprise`);
  }
  const request = {
    appId: clientId || appId,
    key,
    kmsKeyId,
    awsRegion: optional("aws-region"),
    repositories,
    permissions: permissions(),
    githubApiUrl: optional("github-api-url"),
    timeoutSeconds: undefined,
  };
  const env = {};
  for (const [input, variable] of Object.entries(VARIABLE_INPUTS)) {
    if (core.getInput(input)) env[variable] = core.getInput(input);
  }
  // No owner: the component's default, the current repository's owner's
  // installation scoped to it (or to the repositories named).
  const installations = enterprise
    ? [{ tag: "enterprise", val: enterprise }]
    : owners.length > 0
      ? owners.map((owner) => ({ tag: "owner", val: owner }))
      : [undefined];
  return {
    // The `tokens` output's keys.
    owners: enterprise ? [enterprise] : owners.length > 0 ? owners : [currentOwner()],
    env,
    revoke,
    requests: installations.map((installation) => ({ ...request, installation })),
  };
}

/** The current repository's owner, as the runner names it. */
function currentOwner() {
  return process.env.GITHUB_REPOSITORY_OWNER || (process.env.GITHUB_REPOSITORY ?? "").split("/")[0];
}

/** A thrown error as one line: an input's fault names the input. */
export function describe(error) {
  const payload = error?.payload;
  if (payload === undefined) return error.message;
  if (payload.tag === "invalid-input") {
    const { field, rule } = payload.val;
    const input =
      field === "app-id"
        ? core.getInput("client-id")
          ? "client-id"
          : "app-id"
        : (FIELD_INPUTS[field] ?? Object.keys(VARIABLE_INPUTS).find((input) => VARIABLE_INPUTS[input] === field));
    return input ? `Input ${input}: ${rule}` : `${field}: ${rule}`;
  }
  const proxy = runnersProxy();
  const through = proxy && ["transport", "timeout"].includes(payload.tag) ? ` (through the proxy ${proxy})` : "";
  return issuer.describeError(payload) + through;
}

/** The proxy the runner sets (the I/O worker's agents honour it: see
 * src/bundle/proxy-agents.cjs), without the credentials its URL may hold. */
function runnersProxy() {
  const names = ["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"];
  const set = names.map((name) => process.env[name]).find((value) => value);
  if (!set) return undefined;
  try {
    const url = new URL(set);
    url.username = "";
    url.password = "";
    return url.origin;
  } catch {
    return "(not a URL)";
  }
}

/** Runs `step`; a failure is an `::error::` line and a non-zero exit. */
export async function run(step) {
  try {
    await step();
  } catch (error) {
    core.setFailed(clean(describe(error)));
  }
}
