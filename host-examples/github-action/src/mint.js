// The main step: mints the token(s) and writes the outputs (started by main.js).

import * as core from "@actions/core";

import { clean, component, requests, run } from "./action.js";

run(async () => {
  const { owners, env, revoke, requests: asked } = requests();
  const issuer = component(env);
  const started = performance.now();
  const minted = issuer.getInstallationTokens(asked);
  const took = performance.now() - started;
  // Every token is masked before anything else could print it, and saved
  // for post at once: whatever fails from here on, post revokes it.
  for (const { token } of minted) core.setSecret(token);
  if (revoke) {
    core.saveState("tokens", JSON.stringify(minted.map(({ token, expiresAt }) => ({ token, expiresAt }))));
  }
  core.debug(`minting took ${took.toFixed(1)} ms, from ${started.toFixed(1)} ms after Node started`);

  // The component checked every value GitHub sent; nothing printed or
  // output holds a control character all the same.
  const [first] = minted;
  core.setOutput("token", first.token);
  core.setOutput("installation-id", String(first.installationId));
  core.setOutput("app-slug", clean(first.appSlug ?? ""));
  core.setOutput("expires-at", clean(first.expiresAt));
  core.setOutput("tokens", JSON.stringify(Object.fromEntries(owners.map((owner, i) => [owner, minted[i].token]))));
  for (const [i, owner] of owners.entries()) {
    const { installationId, repositories, expiresAt } = minted[i];
    const scope = repositories.length > 0 ? repositories.join(", ") : "every repository it can access";
    core.info(clean(`A token for ${owner} (installation ${installationId}): ${scope}, until ${expiresAt}.`));
  }
  if (!revoke) core.info("skip-token-revoke is set: the token(s) stay valid until they expire.");
});
