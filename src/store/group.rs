//! Group commit for SQLite's single writer. Concurrent writers take turns on
//! the one connection as before, but each runs its work inside a savepoint of
//! a shared transaction; the transaction commits (one WAL append, one fsync)
//! when nobody else is queued, or after [`MAX_BATCH`] members. Nobody is told
//! their change succeeded before the commit that makes it durable, a member
//! whose work fails is rolled back to its savepoint alone, and a failed commit
//! fails every member of its batch. Under no contention a batch is one member
//! and this is an ordinary transaction.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};

use diesel::connection::{Connection, TransactionManager};

use super::{Conn, DbConn, StoreError};

/// Most changes committed together (bounds how long a member waits).
pub const MAX_BATCH: usize = 32;

#[derive(Default)]
struct State {
    /// The writer connection while a batch's transaction is open.
    open: Option<Conn>,
    /// Number of the open (or last) batch.
    batch: u64,
    /// Members run in the open batch.
    members: usize,
    /// Highest batch whose commit has finished.
    done: u64,
    /// Batches whose commit failed (rare; pruned as batches pass).
    failed: Vec<u64>,
}

/// The shared transaction and the writers waiting on it.
#[derive(Default)]
pub struct Group {
    state: Mutex<State>,
    committed: Condvar,
    queued: AtomicUsize,
}

impl Group {
    /// Runs `f` in the current batch; returns once its batch has committed.
    pub fn run<T, E>(
        &self,
        connect: impl FnOnce() -> Result<Conn, StoreError>,
        f: impl FnOnce(&mut DbConn) -> Result<T, E>,
    ) -> Result<T, E>
    where
        E: From<StoreError> + From<diesel::result::Error>,
    {
        self.queued.fetch_add(1, Ordering::SeqCst);
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        self.queued.fetch_sub(1, Ordering::SeqCst);
        if st.open.is_none() {
            let mut conn = connect().map_err(E::from)?;
            // IMMEDIATE: take SQLite's write lock now (waiting out another
            // process, such as `daftar ledger verify` beside the server, by
            // busy_timeout) rather than fail on upgrading a read snapshot
            // that another process's commit made stale.
            match &mut *conn {
                DbConn::Sqlite(c) => {
                    diesel::connection::AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?
                }
                c => <DbConn as Connection>::TransactionManager::begin_transaction(c)?,
            }
            st.open = Some(conn);
            st.batch += 1;
            st.members = 0;
        }
        let batch = st.batch;
        st.members += 1;
        let first = st.members == 1;
        let Some(conn) = st.open.as_mut() else {
            return Err(E::from(StoreError::Unavailable("the writer connection is gone".into())));
        };
        let conn: &mut DbConn = conn;
        let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            if first {
                // Alone in the transaction so far: no savepoint needed.
                f(conn)
            } else {
                // Nested inside the open transaction: diesel makes this a
                // savepoint, rolled back alone if `f` fails.
                conn.transaction(f)
            }
        }));
        let result = match run {
            Ok(result) => result,
            Err(panic) => {
                // A bug mid-change: nothing of this batch may be committed.
                if let Some(mut conn) = st.open.take() {
                    let _ = <DbConn as Connection>::TransactionManager::rollback_transaction(&mut conn);
                }
                st.failed.push(batch);
                st.done = batch;
                self.committed.notify_all();
                drop(st);
                std::panic::resume_unwind(panic);
            }
        };
        if first && result.is_err() {
            // Its own transaction so far: roll it all back; nobody waits on it.
            if let Some(mut conn) = st.open.take() {
                let _ = <DbConn as Connection>::TransactionManager::rollback_transaction(&mut conn);
            }
            st.done = batch;
            self.committed.notify_all();
            return result;
        }
        if self.queued.load(Ordering::SeqCst) == 0 || st.members >= MAX_BATCH {
            // Last in line: commit for everyone in the batch.
            let ok = match st.open.take() {
                Some(mut conn) => <DbConn as Connection>::TransactionManager::commit_transaction(&mut conn).is_ok(),
                None => false,
            };
            if !ok {
                st.failed.push(batch);
            }
            st.done = batch;
            st.failed.retain(|b| *b + 1024 > batch);
            self.committed.notify_all();
            return if ok { result } else { Err(E::from(commit_failed())) };
        }
        // Someone else will commit this batch. A failed change has nothing to
        // wait for; a successful one is not reported before it is durable.
        let value = result?;
        while st.done < batch {
            st = self.committed.wait(st).unwrap_or_else(|p| p.into_inner());
        }
        if st.failed.contains(&batch) { Err(E::from(commit_failed())) } else { Ok(value) }
    }
}

fn commit_failed() -> StoreError {
    StoreError::Unavailable("the database could not commit the change; nothing was saved, try again".into())
}
