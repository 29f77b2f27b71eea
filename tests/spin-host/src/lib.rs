//! A stand-in of Spin's host, for the Spin build: what `spin up` does with
//! `spin.toml` and a `runtime-config.toml` pointing the `default` store at
//! Redis, implemented in wasmtime 48 from the WIT Spin ships
//! (`fermyon:spin/variables@2.0.0`, `fermyon:spin/key-value@2.0.0`).
//!
//! - Variables: the manifest's application variables, each from
//!   `SPIN_VARIABLE_<NAME>` in this process's environment (Spin's default
//!   provider) else its default (a required one missing stops the host),
//!   handed to the component through the component's `variables` templates.
//! - Key-value: the stores the manifest grants (`key_value_stores`), all on
//!   one Redis; another label is refused, as Spin refuses it.
//! - A fresh instance per request, as Spin runs WASI 0.2 components, and
//!   nothing of this process's environment reaches it.
//!
//! No Spin binary is installable here; a real Spin runs the outside checks.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};

use hyper::server::conn::http1;
use tokio::net::TcpListener;
use wasmtime::component::{Component, HasSelf, Linker, Resource, ResourceTable};
use wasmtime::error::Context;
use wasmtime::{Engine, Store, bail};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks, WasiHttpView};

mod bindings {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "spin-imports",
        with: { "fermyon:spin/key-value.store": super::OpenStore },
    });
}

use bindings::fermyon::spin::{key_value, variables};

/// What the host reads of `spin.toml`: the component's variables, resolved,
/// and the key-value stores it may open.
#[derive(Clone, Debug)]
pub struct Manifest {
    /// The component's variables, by name, with their values.
    pub variables: BTreeMap<String, String>,
    /// The labels of the stores the component may open.
    pub stores: Vec<String>,
}

impl Manifest {
    /// Reads `spin.toml`'s first component, resolving application variables
    /// with `lookup` (Spin's environment provider: `SPIN_VARIABLE_<NAME>`).
    pub fn read(text: &str, lookup: impl Fn(&str) -> Option<String>) -> wasmtime::Result<Manifest> {
        let manifest = text.parse::<toml::Table>().context("spin.toml is not TOML")?;
        let mut application = BTreeMap::new();
        for (name, spec) in manifest.get("variables").and_then(|v| v.as_table()).into_iter().flatten() {
            let value = lookup(&format!("SPIN_VARIABLE_{}", name.to_ascii_uppercase()))
                .or_else(|| spec.get("default").and_then(|d| d.as_str()).map(str::to_owned));
            match value {
                Some(value) => application.insert(name.clone(), value),
                None => bail!(
                    "the required variable {name} is not set (SPIN_VARIABLE_{})",
                    name.to_ascii_uppercase()
                ),
            };
        }
        let (_, component) = manifest
            .get("component")
            .and_then(|c| c.as_table())
            .and_then(|c| c.iter().next())
            .context("spin.toml has no component")?;
        let mut variables = BTreeMap::new();
        for (name, template) in component.get("variables").and_then(|v| v.as_table()).into_iter().flatten() {
            let template = template.as_str().context("a component variable is a string")?;
            variables.insert(name.clone(), expand(template, &application)?);
        }
        let stores = component
            .get("key_value_stores")
            .and_then(|s| s.as_array())
            .map(|labels| labels.iter().filter_map(|l| l.as_str().map(str::to_owned)).collect())
            .unwrap_or_default();
        Ok(Manifest { variables, stores })
    }
}

/// `{{ name }}` templates in `template`, filled from `application`.
fn expand(template: &str, application: &BTreeMap<String, String>) -> wasmtime::Result<String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find("}}").context("an unclosed template")? + start;
        let name = rest[start + 2..end].trim();
        out.push_str(application.get(name).with_context(|| format!("no application variable {name}"))?);
        rest = &rest[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// An open store: its label (every label lives in the same Redis).
pub struct OpenStore {
    _label: String,
}

struct State {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    hooks: Hooks,
    manifest: Arc<Manifest>,
    redis: Redis,
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl WasiHttpView for State {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView { ctx: &mut self.http, table: &mut self.table, hooks: &mut self.hooks }
    }
}

/// Outgoing requests go out as asked (the tests' stand-ins are on loopback;
/// Spin's `allowed_outbound_hosts` is Spin's to enforce).
struct Hooks;

impl WasiHttpHooks for Hooks {}

impl variables::Host for State {
    fn get(&mut self, name: String) -> Result<String, variables::Error> {
        self.manifest.variables.get(&name).cloned().ok_or(variables::Error::Undefined(name))
    }
}

/// The Redis behind every store, its connections kept open between
/// requests (as Spin's Redis key-value keeps its own).
#[derive(Clone)]
struct Redis {
    client: redis::Client,
    idle: Arc<Mutex<Vec<redis::Connection>>>,
}

impl Redis {
    /// Runs `command` on an idle connection, else a new one; a connection
    /// that failed is dropped, the others go back.
    fn query<T: redis::FromRedisValue>(&self, command: &redis::Cmd) -> Result<T, key_value::Error> {
        let other = |error: redis::RedisError| key_value::Error::Other(error.to_string());
        let idle = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        let mut connection = match idle {
            Some(connection) => connection,
            None => self.client.get_connection().map_err(other)?,
        };
        let answer = command.query(&mut connection).map_err(other)?;
        if let Ok(mut idle) = self.idle.lock() {
            idle.push(connection);
        }
        Ok(answer)
    }
}

impl key_value::Host for State {}

impl key_value::HostStore for State {
    fn open(&mut self, label: String) -> Result<Resource<OpenStore>, key_value::Error> {
        if !self.manifest.stores.contains(&label) {
            return Err(key_value::Error::AccessDenied);
        }
        self.table.push(OpenStore { _label: label }).map_err(|e| key_value::Error::Other(e.to_string()))
    }

    fn get(&mut self, _: Resource<OpenStore>, key: String) -> Result<Option<Vec<u8>>, key_value::Error> {
        self.redis.query(redis::cmd("GET").arg(&key))
    }

    fn set(&mut self, _: Resource<OpenStore>, key: String, value: Vec<u8>) -> Result<(), key_value::Error> {
        self.redis.query(redis::cmd("SET").arg(&key).arg(value))
    }

    fn delete(&mut self, _: Resource<OpenStore>, key: String) -> Result<(), key_value::Error> {
        self.redis.query(redis::cmd("DEL").arg(&key))
    }

    fn exists(&mut self, _: Resource<OpenStore>, key: String) -> Result<bool, key_value::Error> {
        self.redis.query(redis::cmd("EXISTS").arg(&key))
    }

    fn get_keys(&mut self, _: Resource<OpenStore>) -> Result<Vec<String>, key_value::Error> {
        self.redis.query(redis::cmd("KEYS").arg("*"))
    }

    fn drop(&mut self, store: Resource<OpenStore>) -> wasmtime::Result<()> {
        self.table.delete(store)?;
        Ok(())
    }
}

/// Serves the Spin build at `wasm` with `manifest`'s variables and a
/// key-value store on `redis_url`, on `addr`, until the process ends;
/// calls `ready` with the bound address (useful with port 0).
pub async fn serve(
    wasm: &Path,
    manifest: Manifest,
    redis_url: &str,
    addr: SocketAddr,
    ready: impl FnOnce(SocketAddr),
) -> wasmtime::Result<()> {
    let engine = Engine::default();
    let component =
        Component::from_file(&engine, wasm).with_context(|| format!("loading {}", wasm.display()))?;
    let mut linker = Linker::new(&engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
    bindings::SpinImports::add_to_linker::<State, HasSelf<State>>(&mut linker, |state| state)?;
    let pre = ProxyPre::new(linker.instantiate_pre(&component)?)?;
    let client = redis::Client::open(redis_url).context("the Redis URL")?;
    let redis = Redis { client, idle: Arc::default() };
    let (manifest, listener) = (Arc::new(manifest), TcpListener::bind(addr).await?);
    ready(listener.local_addr()?);
    loop {
        let (client, _) = listener.accept().await?;
        let (pre, manifest, redis) = (pre.clone(), manifest.clone(), redis.clone());
        tokio::task::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let state = State {
                    wasi: WasiCtx::builder().inherit_stderr().build(),
                    http: WasiHttpCtx::new(),
                    table: ResourceTable::new(),
                    hooks: Hooks,
                    manifest: manifest.clone(),
                    redis: redis.clone(),
                };
                handle(pre.clone(), state, request)
            });
            let _ = http1::Builder::new().serve_connection(TokioIo::new(client), service).await;
        });
    }
}

/// One request in a fresh instance.
async fn handle(
    pre: ProxyPre<State>,
    state: State,
    request: hyper::Request<hyper::body::Incoming>,
) -> wasmtime::Result<hyper::Response<HyperOutgoingBody>> {
    let mut store = Store::new(pre.engine(), state);
    let (sender, receiver) = tokio::sync::oneshot::channel();
    let request = store.data_mut().http().new_incoming_request(Scheme::Http, request)?;
    let out = store.data_mut().http().new_response_outparam(sender)?;
    let task = tokio::task::spawn(async move {
        let proxy = pre.instantiate_async(&mut store).await?;
        proxy.wasi_http_incoming_handler().call_handle(store, request, out).await
    });
    match receiver.await {
        Ok(Ok(response)) => Ok(response),
        Ok(Err(e)) => Err(e.into()),
        Err(_) => match task.await {
            Ok(Ok(())) => bail!("the component never answered"),
            Ok(Err(e)) => Err(e),
            Err(e) => Err(e.into()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_come_from_the_environment_else_their_default() {
        let text = r#"
            [variables]
            app_id = { required = true }
            cache_tokens = { default = "false" }
            [component.token]
            key_value_stores = ["default"]
            [component.token.variables]
            app_id = "{{ app_id }}"
            cache_tokens = "{{cache_tokens}}"
            both = "{{ app_id }}/{{ cache_tokens }}"
        "#;
        let env = |name: &str| (name == "SPIN_VARIABLE_APP_ID").then(|| "42".to_owned());
        let m = Manifest::read(text, env).unwrap();
        assert_eq!(m.variables["app_id"], "42");
        assert_eq!(m.variables["cache_tokens"], "false");
        assert_eq!(m.variables["both"], "42/false");
        assert_eq!(m.stores, ["default"]);
        assert!(Manifest::read(text, |_| None).is_err(), "a required variable missing stops the host");
    }
}
