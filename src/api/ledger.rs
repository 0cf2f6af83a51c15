//! Verifying the ledger, and checkpoints on demand.

use actix_web::web;

use super::auth::Caller;
use super::{ApiError, AppState};
use crate::domain::org::Role;
use crate::ledger;

fn may_audit(caller: &Caller) -> Result<(), ApiError> {
    let roles = &caller.principal.viewer.roles;
    if roles.iter().any(|(r, _)| matches!(r, Role::Auditor | Role::Sysadmin)) {
        Ok(())
    } else {
        Err(ApiError::forbidden("only auditors and sysadmins verify the ledger"))
    }
}

/// Seals what is pending, then recomputes the whole ledger and names the first bad entry.
#[utoipa::path(get, path = "/api/v1/ledger/verify",
    responses((status = 200, description = "{entries, ok, first_bad_seq, problem, head_hash, checkpoint}"),
              (status = 403, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn verify(state: web::Data<AppState>, caller: Caller) -> Result<web::Json<ledger::Report>, ApiError> {
    may_audit(&caller)?;
    let (db, spki) = (state.db.clone(), state.ca.public_key_der());
    let report = web::block(move || -> Result<ledger::Report, ApiError> {
        ledger::seal(&db)?;
        let mut c = db.reader()?;
        Ok(ledger::verify(&mut c, &spki)?)
    })
    .await
    .map_err(|e| ApiError::internal(&e))??;
    Ok(web::Json(report))
}

/// Signs a checkpoint now (sysadmin).
#[utoipa::path(post, path = "/api/v1/ledger/checkpoints",
    responses((status = 201, description = "the checkpoint"), (status = 403, body = super::error::ErrorBody)), security(("bearer" = [])))]
pub async fn checkpoint(state: web::Data<AppState>, caller: Caller) -> Result<actix_web::HttpResponse, ApiError> {
    if !caller.principal.viewer.roles.iter().any(|(r, _)| *r == Role::Sysadmin) {
        return Err(ApiError::forbidden("only a sysadmin signs checkpoints on demand"));
    }
    let (db, ca) = (state.db.clone(), state.ca.clone());
    let cp = web::block(move || ledger::checkpoint(&db, &ca))
        .await
        .map_err(|e| ApiError::internal(&e))?
        .map_err(|e| ApiError::internal(&e))?;
    Ok(actix_web::HttpResponse::Created().json(cp))
}
