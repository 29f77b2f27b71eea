//! HTTP as the component speaks it: URLs ([`url`]), requests and answers as
//! data and the [`http::Transport`] that sends them ([`http`]), retries
//! ([`retry`]), a scripted transport for tests ([`script`]), and the one
//! module that does I/O, through `wasi:http/outgoing-handler` ([`outgoing`]).

pub mod http;
pub mod outgoing;
pub mod retry;
pub mod script;
pub mod url;
