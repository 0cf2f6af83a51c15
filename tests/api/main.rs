//! Black-box tests through the real server and the real `daftar` binary, on
//! SQLite and (when `DAFTAR_TEST_POSTGRES_URL` is set) PostgreSQL.

mod helpers;

mod abuse;
mod admin;
mod analytics;
mod auth;
mod backup;
mod browser;
mod bundle;
mod cli;
mod compliance;
mod connections;
mod documents;
mod efile;
mod fuzz;
mod jobs;
mod layering;
mod ledger;
mod mail;
mod migrations;
mod operations;
mod org;
mod readme;
mod receipts;
mod scaling;
mod search;
mod sight;
mod signing;
mod store;
mod tls;
mod tracking;
mod workflows;
