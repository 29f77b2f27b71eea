// In place of the namespace import of node:http in the WASI shim: see README.md.
import { createRequire } from "node:module";

export const { validateHeaderName, validateHeaderValue } = createRequire(import.meta.url)("node:http");
