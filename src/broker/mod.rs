//! The token broker: RS256 signatures ([`rs256`]), callers' ID tokens
//! ([`idtoken`]) and their issuers' keys ([`keys`]), the trust policy ([`policy`]), the audit trail
//! ([`audit`]), and `POST /token` decided ([`flow`]).

pub mod audit;
pub mod flow;
pub mod idtoken;
pub mod keys;
pub mod policy;
pub mod rs256;
