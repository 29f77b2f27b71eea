// The Action's main step. The WASI shim's I/O worker (the second thread
// that makes its synchronous I/O possible) starts first, so that it boots
// while Node loads the component's bindings; then the step itself.
import "@bytecodealliance/preview2-shim/io";

await import("./mint.js");
