// The Action's post step, started as main.js starts the main step.
import "@bytecodealliance/preview2-shim/io";

await import("./revoke.js");
