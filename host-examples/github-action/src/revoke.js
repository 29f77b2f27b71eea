// The post step (started by post.js): revokes what main minted and saved,
// unless it has expired. A token revoked already is a notice, and any other
// failure to revoke a warning, not a failed job.

import * as core from "@actions/core";

import { clean, component, describe, optional, run } from "./action.js";

run(async () => {
  // Main saved the tokens as soon as they were masked, unless
  // skip-token-revoke was set: what is saved is what to revoke.
  const saved = core.getState("tokens");
  if (!saved) {
    core.info("No token to revoke: none was minted, or skip-token-revoke is set.");
    return;
  }
  const issuer = component();
  const githubApiUrl = optional("github-api-url");
  for (const { token, expiresAt } of JSON.parse(saved)) {
    if (Date.parse(expiresAt) <= Date.now()) {
      core.info(clean(`A token expired at ${expiresAt}: nothing to revoke.`));
      continue;
    }
    try {
      issuer.revokeInstallationToken({ token, githubApiUrl, timeoutSeconds: undefined });
      core.info("Token revoked.");
    } catch (error) {
      if (error?.payload?.tag === "github" && error.payload.val.status === 401) {
        core.notice("The token was already revoked or had expired: nothing to do.");
      } else {
        // As actions/create-github-app-token: a warning, and the job goes
        // on (the token expires within the hour).
        core.warning(clean(`Token revocation failed: ${describe(error)}`));
      }
    }
  }
});
