//! Identity: password hashing (and, with the auth issue, tokens and sessions).

pub mod password;
