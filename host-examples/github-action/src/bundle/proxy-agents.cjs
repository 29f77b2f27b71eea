// In place of node:http and node:https in the WASI shim's I/O worker, which
// sends every request the component makes (KMS, STS, GitHub, the runner's
// OIDC token URL) through agents of its own. These are Node's modules with
// one change: an Agent honours the runner's proxy variables, HTTPS_PROXY,
// HTTP_PROXY and NO_PROXY (and their lower-case spellings), as Node 24's
// `proxyEnv` reads them: host suffixes, `*`, ports and IP addresses in
// NO_PROXY, credentials in the proxy's URL sent as Proxy-Authorization.
// The modules are Node's own (process.getBuiltinModule), not what the
// bundle would alias.
"use strict";

function withProxy(name) {
  const node = process.getBuiltinModule(name);
  class Agent extends node.Agent {
    constructor(options = {}) {
      super({ proxyEnv: process.env, ...options });
    }
  }
  return { ...node, Agent };
}

module.exports = { http: withProxy("node:http"), https: withProxy("node:https") };
