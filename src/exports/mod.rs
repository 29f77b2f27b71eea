//! The component's exports, which only translate: the WIT interface
//! ([`issuer`]), the command line ([`cli`], [`args`]) and the HTTP handler
//! ([`handler`]). They alone touch the host: its environment, resolved into
//! settings by [`resolve`], its clock and files.

pub mod args;
pub mod cli;
pub mod handler;
pub mod issuer;
pub mod resolve;
#[cfg(feature = "spin")]
pub mod spin;
