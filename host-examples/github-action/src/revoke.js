// The post step (started by post.js): revokes what main minted, unless asked not to or
// already expired. A token revoked already is a notice, not a failure.

import * as core from "@actions/core";

import { component, optional, run } from "./action.js";

run(async () => {
  if (core.getBooleanInput("skip-token-revoke")) {
    core.info("skip-token-revoke is set: the token(s) stay valid until they expire.");
    return;
  }
  const saved = core.getState("tokens");
  if (!saved) {
    core.info("No token to revoke.");
    return;
  }
  const issuer = component();
  const githubApiUrl = optional("github-api-url");
  for (const { token, expiresAt } of JSON.parse(saved)) {
    if (Date.parse(expiresAt) <= Date.now()) {
      core.info(`A token expired at ${expiresAt}: nothing to revoke.`);
      continue;
    }
    try {
      issuer.revokeInstallationToken({ token, githubApiUrl, timeoutSeconds: undefined });
      core.info("Token revoked.");
    } catch (error) {
      if (error?.payload?.tag === "github" && error.payload.val.status === 401) {
        core.notice("The token was already revoked or had expired: nothing to do.");
      } else {
        throw error;
      }
    }
  }
});
