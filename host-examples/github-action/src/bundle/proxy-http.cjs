// node:http for the I/O worker, with proxy-aware agents: see proxy-agents.cjs.
module.exports = require("./proxy-agents.cjs").http;
