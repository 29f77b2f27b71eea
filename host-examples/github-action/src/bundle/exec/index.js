// In place of @actions/exec: see ../README.md.
export function exec() {
  throw new Error("@actions/exec is not bundled with this action");
}

export function getExecOutput() {
  throw new Error("@actions/exec is not bundled with this action");
}
