//! GitHub as the component uses it, pure: what it calls things and the
//! rules for them ([`names`]), the App JWT ([`jwt`]), and the REST calls
//! ([`api`]).

pub mod api;
pub mod jwt;
pub mod names;
