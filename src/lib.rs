//! Daftar: paperless file noting and file movement for government.
//!
//! Data flows one way: HTTP / CLI → application modules (`org`, …) → the pure
//! [`domain`] → the [`store`] and other adapters.

pub mod analytics;
pub mod api;
pub mod auth;
pub mod backup;
pub mod bench;
pub mod blobs;
pub mod bundle;
pub mod cli;
pub mod clock;
pub mod compliance;
pub mod config;
pub mod demo;
pub mod domain;
pub mod efile;
pub mod fuzz;
pub mod jobs;
pub mod ledger;
pub mod mail;
pub mod metrics;
pub mod org;
pub mod pki;
pub mod search;
pub mod server;
pub mod signing;
pub mod store;
pub mod tls;
pub mod tracking;
pub mod web;
pub mod workflow;
