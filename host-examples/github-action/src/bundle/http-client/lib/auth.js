// In place of @actions/http-client/lib/auth: see ../../README.md.
export class BearerCredentialHandler {
  constructor() {
    throw new Error("@actions/http-client is not bundled with this action");
  }
}
