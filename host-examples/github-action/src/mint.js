// The main step: mints the token(s) and writes the outputs (started by main.js).

import * as core from "@actions/core";

import { component, requests, run } from "./action.js";

run(async () => {
  const { owners, env, requests: asked } = requests();
  const issuer = component(env);
  const started = performance.now();
  const minted = issuer.getInstallationTokens(asked);
  const took = performance.now() - started;
  // Every token is masked before anything else could print it.
  for (const { token } of minted) core.setSecret(token);
  core.debug(`minting took ${took.toFixed(1)} ms, from ${started.toFixed(1)} ms after Node started`);

  const [first] = minted;
  core.setOutput("token", first.token);
  core.setOutput("installation-id", String(first.installationId));
  core.setOutput("app-slug", first.appSlug ?? "");
  core.setOutput("expires-at", first.expiresAt);
  core.setOutput("tokens", JSON.stringify(Object.fromEntries(owners.map((owner, i) => [owner, minted[i].token]))));
  for (const [i, owner] of owners.entries()) {
    const { installationId, repositories } = minted[i];
    const scope = repositories.length > 0 ? repositories.join(", ") : "every repository it can access";
    core.info(`A token for ${owner} (installation ${installationId}): ${scope}, until ${minted[i].expiresAt}.`);
  }

  if (!core.getBooleanInput("skip-token-revoke")) {
    core.saveState("tokens", JSON.stringify(minted.map(({ token, expiresAt }) => ({ token, expiresAt }))));
  }
});
