//! Identity: passwords, tokens, sessions, login throttling, and the security
//! audit trail. Who the caller is and what they hold is loaded by `principal`;
//! what they may see is decided by [`crate::domain::access`].

pub mod audit;
pub mod callers;
pub mod login;
pub mod password;
pub mod principal;
pub mod session;
pub mod throttle;
pub mod tokens;
