//! `spin-host --manifest spin.toml --wasm FILE --redis redis://HOST:PORT [--listen ADDR]`:
//! serves the Spin build as `spin up` would with that manifest and a Redis
//! key-value store, variables from `SPIN_VARIABLE_*`; prints
//! `Serving HTTP on http://ADDRESS/` once listening, as `spin up` does.

use std::path::PathBuf;

#[tokio::main]
async fn main() -> wasmtime::Result<()> {
    let mut args = std::env::args().skip(1);
    let (mut manifest, mut wasm, mut redis, mut listen) = (None, None, None, "127.0.0.1:0".to_owned());
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| wasmtime::format_err!("{flag} needs a value"))?;
        match flag.as_str() {
            "--manifest" => manifest = Some(PathBuf::from(value)),
            "--wasm" => wasm = Some(PathBuf::from(value)),
            "--redis" => redis = Some(value),
            "--listen" => listen = value,
            _ => wasmtime::bail!("unknown flag {flag}"),
        }
    }
    let usage = "usage: spin-host --manifest spin.toml --wasm FILE --redis URL [--listen ADDR]";
    let (Some(manifest), Some(wasm), Some(redis)) = (manifest, wasm, redis) else {
        wasmtime::bail!("{usage}")
    };
    let text = std::fs::read_to_string(&manifest)?;
    let manifest = spin_host::Manifest::read(&text, |name| std::env::var(name).ok())?;
    spin_host::serve(&wasm, manifest, &redis, listen.parse()?, |addr| {
        eprintln!("Serving HTTP on http://{addr}/");
    })
    .await
}
