//! github-app-kms-token: a WebAssembly component that mints GitHub App
//! installation tokens while the App's private key never leaves AWS KMS.
//!
//! The layout follows the data flow:
//!
//! - pure logic, no I/O: [`config`] (request fields and environment,
//!   validated), [`jwt`] (the App JWT), [`credentials`] (which AWS credential
//!   source applies), [`kms`], [`sts`], [`oidc`] and [`github`] (each
//!   service's requests and answers), [`aws`] (AWS error answers), [`json`]
//!   (reading JSON field by field), [`http`]
//!   (requests and responses as data), [`args`] (the command line),
//!   [`policy`], [`idtoken`], [`rs256`] and [`audit`] (the broker's trust
//!   policy, caller tokens, their signatures and its audit trail);
//! - [`mint`] and [`broker`]: the flows that string them together over a
//!   [`http::Transport`];
//! - [`wasi_http`]: the one module that turns requests into `wasi:http` calls;
//! - the exports, which only translate: [`issuer`] (the WIT interface),
//!   [`cli`] (`wasi:cli/run`), [`handler`] (`wasi:http/incoming-handler`).

// The error type is the WIT `token-error`, handed to the host by value;
// errors end a call, so their size costs nothing worth boxing for.
#![allow(clippy::result_large_err)]
#![warn(missing_docs)]

pub mod args;
pub mod audit;
pub mod aws;
pub mod broker;
pub mod cli;
pub mod config;
pub mod credentials;
pub mod error;
pub mod github;
pub mod handler;
pub mod http;
pub mod idtoken;
pub mod issuer;
pub mod json;
pub mod jwt;
pub mod kms;
pub mod mint;
pub mod oidc;
pub mod policy;
pub mod retry;
pub mod rs256;
pub mod secret;
pub mod sts;
pub mod wasi_http;

// Generated from `wit/`, whose comments document the types.
#[allow(missing_docs)]
mod bindings {
    wit_bindgen::generate!({
        path: "wit",
        world: "component",
        additional_derives: [PartialEq, Eq],
    });
    // Exported only in the component: a native cdylib cannot carry WIT names.
    #[cfg(target_arch = "wasm32")]
    use super::issuer::Component;
    #[cfg(target_arch = "wasm32")]
    export!(Component);
    #[cfg(target_arch = "wasm32")]
    use super::cli::Cli;
    #[cfg(target_arch = "wasm32")]
    wasi::cli::command::export!(Cli);
    #[cfg(target_arch = "wasm32")]
    use super::handler::Handler;
    #[cfg(target_arch = "wasm32")]
    wasi::http::proxy::export!(Handler);
}

/// The types of the WIT interface `github-app-kms:token/issuer`.
pub use bindings::exports::github_app_kms::token::issuer as api;

/// The project's name and version, sent as GitHub's required `User-Agent`.
pub const USER_AGENT: &str = concat!("github-app-kms-token/", env!("CARGO_PKG_VERSION"));
