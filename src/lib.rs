//! github-app-kms-token: a WebAssembly component that mints GitHub App
//! installation tokens while the App's private key never leaves its key
//! store: AWS KMS, Google Cloud KMS, Azure Key Vault, or Vault/OpenBao
//! Transit.
//!
//! The folders are the layers, and every module's imports point down the
//! list (`tests/layers.rs` checks it; `docs/architecture.md` has the map and
//! a glossary of the words used here):
//!
//! 1. [`secret`], [`time`], [`json`], [`store`], [`mod@env`], [`error`], [`cache`]: values
//!    every layer uses;
//! 2. [`net`]: requests and answers as data, URLs, retries, and the one
//!    module that sends them ([`net::outgoing`], through `wasi:http`);
//! 3. [`identity`] and [`oauth`] (the workload's ID token, token
//!    endpoints); [`aws`], [`vault`], [`gcp`], [`azure`] (the key stores)
//!    and [`github`]: each service's requests and answers, and the rules
//!    for its names, pure;
//! 4. [`mint`] (the settings a token needs, and the flow that mints it) and
//!    [`broker`] (callers verified, the trust policy, the service), pure,
//!    over a [`net::http::Transport`];
//! 5. [`exports`]: the WIT interface, the command line and the HTTP handler,
//!    which resolve the host's environment into settings and translate.

// The error type is the WIT `token-error`, handed to the host by value;
// errors end a call, so their size costs nothing worth boxing for.
#![allow(clippy::result_large_err)]
#![deny(unsafe_code)]

pub mod aws;
pub mod azure;
pub mod broker;
pub mod cache;
pub mod env;
pub mod error;
pub mod exports;
pub mod gcp;
pub mod github;
pub mod identity;
pub mod json;
pub mod mint;
pub mod net;
pub mod oauth;
pub mod rs256;
pub mod secret;
pub mod store;
pub mod time;
pub mod vault;

// Generated from `wit/`, whose comments document the types; the only
// unsafe code, the canonical ABI's.
#[allow(unsafe_code)]
mod bindings {
    wit_bindgen::generate!({
        path: "wit",
        world: "plugin",
        additional_derives: [PartialEq, Eq],
    });
    // Exported only in the component: a native cdylib cannot carry WIT names.
    #[cfg(target_arch = "wasm32")]
    use super::exports::issuer::Component;
    #[cfg(target_arch = "wasm32")]
    export!(Component);
    #[cfg(target_arch = "wasm32")]
    use super::exports::cli::Cli;
    #[cfg(target_arch = "wasm32")]
    wasi::cli::command::export!(Cli);
    #[cfg(target_arch = "wasm32")]
    use super::exports::handler::Handler;
    #[cfg(target_arch = "wasm32")]
    wasi::http::proxy::export!(Handler);
}

// The Spin build's imports (`world spin-imports`): Spin's variables and
// key-value store.
#[cfg(feature = "spin")]
#[allow(unsafe_code)]
mod spin_bindings {
    wit_bindgen::generate!({ path: "wit", world: "spin-imports", generate_all });
}

/// The types of the WIT interface `github-app-kms:token/issuer`.
pub use bindings::exports::github_app_kms::token::issuer as api;

/// The project's name and version, sent as GitHub's required `User-Agent`.
pub const USER_AGENT: &str = concat!("github-app-kms-token/", env!("CARGO_PKG_VERSION"));
