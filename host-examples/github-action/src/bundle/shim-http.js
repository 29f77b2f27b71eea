// In place of @bytecodealliance/preview2-shim/http for the component's
// bindings: the shim's own, with one fix. When an answer's body stream fails
// (a connection cut mid-answer), the shim's `http-error-code` hands back
// Node's error rather than a `wasi:http` error code, and lifting it into the
// component throws out of the call, past the component's retry. Here such an
// error is `HTTP-response-incomplete`, which the component retries as any
// host reports it (tests/action/tests/parity.rs). The module is the shim's
// file, by path, so that this alias does not resolve to itself.
import { outgoingHandler, types as shim } from "../../node_modules/@bytecodealliance/preview2-shim/dist/nodejs/http.js";

function httpErrorCode(error) {
  const code = shim.httpErrorCode(error);
  return typeof code?.tag === "string" ? code : { tag: "HTTP-response-incomplete" };
}

export { outgoingHandler };
export const types = { ...shim, httpErrorCode };
