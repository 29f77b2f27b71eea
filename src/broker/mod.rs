//! The token broker: RS256 signatures ([`rs256`]), callers' ID tokens
//! ([`idtoken`]) and their issuers' keys ([`keys`]), the trust policy ([`policy`]), the audit trail
//! ([`audit`]), and the service: routes, `POST /token` decided ([`service`]).

pub mod audit;
pub mod idtoken;
pub mod keys;
pub mod policy;
pub mod rs256;
pub mod service;
