//! The token broker: callers' ID tokens ([`idtoken`]), their issuers'
//! keys ([`keys`]) and the caller verified ([`caller`]), the trust policy
//! ([`policy`]), the audit trail ([`audit`]), and the service: routes,
//! `POST /token` decided ([`service`]).

pub mod audit;
pub mod caller;
pub mod idtoken;
pub mod keys;
pub mod policy;
pub mod service;
