// @actions/core's OIDC client imports @actions/http-client, which imports
// undici's ProxyAgent. The Action never sends a request through
// @actions/core (the component makes its own through the shim), so the
// bundle leaves undici's 400 KB out and puts this in its place.
export class ProxyAgent {
  constructor() {
    throw new Error("undici is not bundled with this action");
  }
}
