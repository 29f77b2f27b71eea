// In place of @actions/http-client: see ../README.md.
export class HttpClient {
  constructor() {
    throw new Error("@actions/http-client is not bundled with this action");
  }
}
