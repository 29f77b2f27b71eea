//! Embedding the github-app-kms-token component in wasmtime: the model for
//! plugin hosts.
//!
//! [`Host`] compiles the component once and links WASI and `wasi:http`;
//! [`Host::instance`] gives a fresh instance with its own environment, whose
//! outgoing requests may only reach the hosts on the allow-list. Calls go
//! through bindings generated from the project's `wit/` folder.

use std::path::Path;
use std::sync::Arc;

use http_body_util::BodyExt;
use wasmtime::component::{Linker, ResourceTable};
use wasmtime::error::Context;
use wasmtime::{Engine, Store};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{
    RequestOptions, WasiBody, WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks, WasiHttpView,
};

mod bindings {
    wasmtime::component::bindgen!({ path: "../../wit", world: "plugin" });
}

pub use bindings::exports::github_app_kms::token::issuer::{
    Access, AppJwt, AppJwtRequest, Installation, InstallationToken, MalformedAnswer, Permission,
    RepositoryRef, RevokeRequest, Service, ServiceError, TokenError, TokenRequest, TransportError,
};

/// Receives one line per outgoing HTTP exchange: method, URL, status (never a header or body).
pub type Log = Arc<dyn Fn(&str) + Send + Sync>;

/// The compiled component, ready to instantiate.
pub struct Host {
    engine: Engine,
    linker: Linker<State>,
    pre: bindings::PluginPre<State>,
    allowed_hosts: Arc<[String]>,
    log: Log,
}

impl Host {
    /// Compiles the component at `wasm`. Outgoing requests may reach only
    /// `allowed_hosts`: `host` (any port) or `host:port`. Each exchange goes to `log`.
    pub fn new(wasm: &Path, allowed_hosts: Vec<String>, log: Log) -> wasmtime::Result<Host> {
        let engine = Engine::default();
        let component = load(&engine, wasm)?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_sync(&mut linker)?;
        let pre = bindings::PluginPre::new(linker.instantiate_pre(&component)?)?;
        Ok(Host { engine, linker, pre, allowed_hosts: allowed_hosts.into(), log })
    }

    /// A fresh instance that sees `env` (and nothing else of the host),
    /// from the `InstancePre` made once in [`Host::new`].
    pub fn instance(&self, env: &[(String, String)]) -> wasmtime::Result<Instance> {
        let (mut store, output) = self.store(env);
        let component = self.pre.instantiate(&mut store)?;
        Ok(Instance { store, component, output })
    }

    /// Like [`Host::instance`], but resolving every import anew
    /// (`Linker::instantiate`), as a host without an `InstancePre` does;
    /// `make bench` compares the two.
    pub fn instance_relinked(&self, env: &[(String, String)]) -> wasmtime::Result<Instance> {
        let (mut store, output) = self.store(env);
        let component =
            bindings::Plugin::instantiate(&mut store, self.pre.instance_pre().component(), &self.linker)?;
        Ok(Instance { store, component, output })
    }

    fn store(&self, env: &[(String, String)]) -> (Store<State>, MemoryOutputPipe) {
        let output = MemoryOutputPipe::new(64 * 1024);
        let wasi = WasiCtx::builder().envs(env).stdout(output.clone()).stderr(output.clone()).build();
        let hooks = Hooks { allowed_hosts: self.allowed_hosts.clone(), log: self.log.clone() };
        let state = State { wasi, http: WasiHttpCtx::new(), table: ResourceTable::new(), hooks };
        (Store::new(&self.engine, state), output)
    }
}

/// Compiles the component file at `wasm`.
fn load(engine: &Engine, wasm: &Path) -> wasmtime::Result<wasmtime::component::Component> {
    wasmtime::component::Component::from_file(engine, wasm)
        .with_context(|| format!("loading {}", wasm.display()))
}

/// One instance of the component.
pub struct Instance {
    store: Store<State>,
    component: bindings::Plugin,
    output: MemoryOutputPipe,
}

impl Instance {
    /// Calls `get-installation-token`.
    pub fn get_installation_token(
        &mut self,
        request: &TokenRequest,
    ) -> wasmtime::Result<Result<InstallationToken, TokenError>> {
        self.component.github_app_kms_token_issuer().call_get_installation_token(&mut self.store, request)
    }

    /// Calls `create-app-jwt`.
    pub fn create_app_jwt(
        &mut self,
        request: &AppJwtRequest,
    ) -> wasmtime::Result<Result<AppJwt, TokenError>> {
        self.component.github_app_kms_token_issuer().call_create_app_jwt(&mut self.store, request)
    }

    /// Calls `revoke-installation-token`.
    pub fn revoke_installation_token(
        &mut self,
        request: &RevokeRequest,
    ) -> wasmtime::Result<Result<(), TokenError>> {
        self.component.github_app_kms_token_issuer().call_revoke_installation_token(&mut self.store, request)
    }

    /// Everything the component wrote to stdout and stderr.
    pub fn output(&self) -> String {
        String::from_utf8_lossy(&self.output.contents()).into_owned()
    }
}

/// The broker: the component's `wasi:http/incoming-handler` served over
/// HTTP/1.1, a fresh instance per request, with the same allow-list and log.
pub mod serve {
    use std::net::SocketAddr;
    use std::path::Path;
    use std::sync::Arc;

    use hyper::server::conn::http1;
    use tokio::net::TcpListener;
    use wasmtime::component::{Linker, ResourceTable};
    use wasmtime::{Engine, Store, bail};
    use wasmtime_wasi::WasiCtx;
    use wasmtime_wasi_http::io::TokioIo;
    use wasmtime_wasi_http::p2::bindings::ProxyPre;
    use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
    use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
    use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpView};

    use super::{Hooks, Log, State, load};

    /// At most this many requests are served at once; more wait their turn.
    pub const MAX_CONCURRENT: usize = 64;
    /// A request not answered by then is dropped with its instance (the connection closes).
    pub const REQUEST_DEADLINE: std::time::Duration = std::time::Duration::from_secs(60);

    struct Server {
        pre: ProxyPre<State>,
        env: Vec<(String, String)>,
        allowed_hosts: Arc<[String]>,
        log: Log,
        slots: tokio::sync::Semaphore,
    }

    /// Serves the component at `wasm` on `addr` until the process ends;
    /// calls `ready` with the bound address (useful with port 0).
    pub async fn run(
        wasm: &Path,
        addr: SocketAddr,
        env: Vec<(String, String)>,
        allowed_hosts: Vec<String>,
        log: Log,
        ready: impl FnOnce(SocketAddr),
    ) -> wasmtime::Result<()> {
        let engine = Engine::default();
        let component = load(&engine, wasm)?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
        let pre = ProxyPre::new(linker.instantiate_pre(&component)?)?;
        let slots = tokio::sync::Semaphore::new(MAX_CONCURRENT);
        let server = Arc::new(Server { pre, env, allowed_hosts: allowed_hosts.into(), log, slots });
        let listener = TcpListener::bind(addr).await?;
        ready(listener.local_addr()?);
        loop {
            let (client, _) = listener.accept().await?;
            let server = server.clone();
            tokio::task::spawn(async move {
                let service = hyper::service::service_fn(move |request| {
                    let server = server.clone();
                    async move { server.handle(request).await }
                });
                let _ = http1::Builder::new().serve_connection(TokioIo::new(client), service).await;
            });
        }
    }

    impl Server {
        async fn handle(
            &self,
            request: hyper::Request<hyper::body::Incoming>,
        ) -> wasmtime::Result<hyper::Response<HyperOutgoingBody>> {
            let _slot = self.slots.acquire().await?;
            let wasi = WasiCtx::builder().envs(&self.env).inherit_stderr().build();
            let hooks = Hooks { allowed_hosts: self.allowed_hosts.clone(), log: self.log.clone() };
            let state = State { wasi, http: WasiHttpCtx::new(), table: ResourceTable::new(), hooks };
            let mut store = Store::new(self.pre.engine(), state);
            let (sender, receiver) = tokio::sync::oneshot::channel();
            let request = store.data_mut().http().new_incoming_request(Scheme::Http, request)?;
            let out = store.data_mut().http().new_response_outparam(sender)?;
            let pre = self.pre.clone();
            let task = tokio::task::spawn(async move {
                let proxy = pre.instantiate_async(&mut store).await?;
                proxy.wasi_http_incoming_handler().call_handle(store, request, out).await
            });
            let Ok(answer) = tokio::time::timeout(REQUEST_DEADLINE, receiver).await else {
                task.abort();
                bail!("the component did not answer within {REQUEST_DEADLINE:?}");
            };
            match answer {
                Ok(Ok(response)) => Ok(response),
                Ok(Err(e)) => Err(e.into()),
                Err(_) => match task.await {
                    Ok(Ok(())) => bail!("the component never answered"),
                    Ok(Err(e)) => Err(e),
                    Err(e) => Err(e.into()),
                },
            }
        }
    }
}

struct State {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    hooks: Hooks,
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

/// Enforces the allow-list and logs each exchange.
struct Hooks {
    allowed_hosts: Arc<[String]>,
    log: Log,
}

impl Hooks {
    fn allows(&self, uri: &http::Uri) -> bool {
        let Some(authority) = uri.authority() else {
            return false;
        };
        self.allowed_hosts.iter().any(|allowed| allowed == authority.as_str() || allowed == authority.host())
    }
}

type SendResult = wasmtime_wasi_http::Result<(
    http::Response<WasiBody>,
    Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
)>;

impl WasiHttpHooks for Hooks {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _response_errors: Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
    ) -> Box<dyn Future<Output = SendResult> + Send> {
        let line = format!("{} {}", request.method(), request.uri());
        let allowed = self.allows(request.uri());
        let log = self.log.clone();
        Box::new(async move {
            if !allowed {
                log(&format!("{line} -> denied (not on the allow-list)"));
                return Err(wasmtime_wasi_http::Error::HttpRequestDenied);
            }
            match wasmtime_wasi_http::default_send_request(request, options).await {
                Ok((response, io)) => {
                    log(&format!("{line} -> {}", response.status().as_u16()));
                    let io: Box<dyn Future<Output = _> + Send> = Box::new(io);
                    Ok((response.map(BodyExt::boxed_unsync), io))
                }
                Err(e) => {
                    log(&format!("{line} -> {e}"));
                    Err(e)
                }
            }
        })
    }
}
