//! `generate ACTION_DIR OUT_DIR`: writes `OUT_DIR/action.yml` (ACTION_DIR's,
//! with the generated permission inputs) and `OUT_DIR/src/generated.js`.
//! `make action` writes them into the Action itself; `make check-action`
//! elsewhere, to compare.

use std::path::PathBuf;

fn main() -> Result<(), String> {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let [action, out] = args.as_slice() else { return Err("usage: generate ACTION_DIR OUT_DIR".into()) };
    let read = |path: PathBuf| std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()));
    let write = |path: PathBuf, text: String| {
        std::fs::create_dir_all(path.parent().expect("a folder")).map_err(|e| e.to_string())?;
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))
    };
    let yml = action_tests::action_yml(&read(action.join("action.yml"))?)
        .ok_or("action.yml has no permission input markers")?;
    write(out.join("action.yml"), yml)?;
    write(out.join("src/generated.js"), action_tests::generated_js())
}
