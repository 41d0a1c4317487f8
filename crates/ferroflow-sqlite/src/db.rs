//! Connection handling: one writer thread that groups concurrent writes into one
//! transaction (group commit), and a bounded pool of read-only connections for WAL readers.
//!
//! Each write job runs inside its own SAVEPOINT, so a failing request rolls back alone
//! while its neighbours in the same group still commit. Callers are answered only after
//! the group's COMMIT, so an acknowledged write is in the WAL before the client hears
//! back, and survives `kill -9`.
//!
//! Each read runs within a [`Budget`]: SQLite's progress handler stops it once it has run
//! longer than the store's query timeout (a 400 telling the user to narrow the search) or
//! once its caller has gone (the request's future was dropped when the client
//! disconnected). At most [`max_readers`] reader connections are ever open; further reads
//! wait for one instead of opening more (each costs file descriptors).

use std::os::raw::c_int;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use ferroflow_core::{Error, Result};
use rusqlite::{Connection, OpenFlags};
use tokio::sync::{mpsc, oneshot, Semaphore};

/// How hard a commit tries to reach the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SyncMode {
    /// Survives a crash of the process (WAL, `synchronous=NORMAL`).
    #[default]
    Normal,
    /// Also survives power loss: fsync on every group commit (`synchronous=FULL`).
    Full,
}

/// The most write jobs one group commit takes; bounds the latency of a group.
const MAX_GROUP: usize = 1024;
const WRITE_QUEUE_DEPTH: usize = 8192;
const STATEMENT_CACHE_CAPACITY: usize = 128;
const CHECKPOINT_INTERVAL: std::time::Duration = std::time::Duration::from_millis(200);
/// 32 MiB of WAL: only reached if the checkpoint thread falls far behind.
const BACKSTOP_CHECKPOINT_PAGES: i64 = 8192;
/// Address space, not memory: the kernel pages the file in and out as it likes.
const READER_MMAP_BYTES: i64 = 16 << 30;
/// How long one read may run by default ([`crate::SqliteOptions::query_timeout`]).
pub const DEFAULT_QUERY_TIMEOUT: Duration = Duration::from_secs(30);
/// SQLite virtual-machine steps between two checks of a read's cancellation flag (an
/// atomic load). A step that calls `ff_regexp` can take milliseconds and a row takes a
/// few dozen steps, so this bounds how long an abandoned search runs on. Measured on a
/// search whose rows took 5 ms each: 10–40 ms of CPU after the client left (180 ms at
/// 1000 steps; the whole search takes 5 s).
const BUDGET_CHECK_STEPS: c_int = 100;
/// The deadline needs the clock, dearer than the flag (a system call on some virtual
/// machines): it is read at every tenth check only.
const CLOCK_EVERY_CHECKS: u32 = 10;

/// The most reader connections open at once: enough to keep every core busy while some
/// reads wait on the disk, few enough that a thousand clients cannot use up the process's
/// file descriptors (each connection holds the database, its WAL and its shm file).
pub(crate) fn max_readers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get()).saturating_mul(4).max(8)
}

type Completion = Box<dyn FnOnce(Result<()>) + Send>;
type WriteJob = Box<dyn Job>;

/// A queued write: its work, and the channel its caller waits on.
trait Job: Send {
    /// Runs the work (in a savepoint when `isolated`); the returned completion answers the
    /// caller once the group's commit outcome is known. Also returns the work's error.
    fn run(self: Box<Self>, conn: &Connection, isolated: bool) -> (Completion, Option<Error>);
    /// Answers the caller without running the work.
    fn fail(self: Box<Self>, error: Error);
}

struct TypedJob<T, F> {
    work: F,
    reply: oneshot::Sender<Result<T>>,
}

impl<T, F> Job for TypedJob<T, F>
where
    T: Send + 'static,
    F: FnOnce(&Connection) -> Result<T> + Send + 'static,
{
    fn run(self: Box<Self>, conn: &Connection, isolated: bool) -> (Completion, Option<Error>) {
        let TypedJob { work, reply } = *self;
        let outcome = if isolated { run_in_savepoint(conn, work) } else { run_guarded(conn, work) };
        let failure = outcome.as_ref().err().cloned();
        let failed = failure.is_some();
        let completion: Completion = Box::new(move |committed: Result<()>| {
            // A lone job that failed was rolled back with its whole transaction.
            let _ = reply.send(if failed { outcome } else { committed.and(outcome) });
        });
        (completion, failure)
    }

    fn fail(self: Box<Self>, error: Error) {
        let _ = self.reply.send(Err(error));
    }
}

/// What a client hears when the database's disk is full (HTTP 507).
pub(crate) const STORAGE_FULL_MESSAGE: &str =
    "The server's database storage is full: the write was not saved. Retry once space has been freed.";

/// The one place SQLite errors become MLflow errors. A full disk (`SQLITE_FULL`, which
/// SQLite reports for `ENOSPC` and `EDQUOT` on writes) is a 507, which clients do not
/// retry. Anything else is a 500 named by its SQLite result code only: SQLite's messages
/// can carry file paths (rusqlite appends the database path to "unable to open database
/// file"), so the full error goes to the server log instead, once.
pub(crate) fn db_error(error: rusqlite::Error) -> Error {
    if let rusqlite::Error::SqliteFailure(failure, _) = &error {
        if failure.code == rusqlite::ErrorCode::DiskFull {
            tracing::error!(%error, "the database disk is full");
            return Error::storage_full(STORAGE_FULL_MESSAGE);
        }
    }
    tracing::error!(%error, "database error");
    let summary = match &error {
        // The static description of the result code, e.g. "unable to open database file".
        rusqlite::Error::SqliteFailure(failure, _) => rusqlite::ffi::code_to_str(failure.extended_code).to_string(),
        rusqlite::Error::InvalidPath(_) => "invalid database path".to_string(),
        // The other variants describe values and columns, not files.
        other => other.to_string(),
    };
    Error::internal(format!("database error: {summary}"))
}

pub(crate) struct Database {
    writer: mpsc::Sender<WriteJob>,
    readers: ReaderPool,
    /// One read connection for [`Database::point_read`], used on the caller's thread.
    point_reader: Mutex<Option<Connection>>,
    query_timeout: Duration,
    path: PathBuf,
}

/// Reader connections: at most [`max_readers`] open, the idle ones kept for reuse.
struct ReaderPool {
    idle: Mutex<Vec<Connection>>,
    /// [`max_readers`] permits. A read holds one from before it takes a blocking thread
    /// until its connection is back in `idle` (or closed); so when a read finds `idle`
    /// empty, every open connection is in use by another permit holder, and it may open one.
    slots: Arc<Semaphore>,
    /// Connections open now, idle or in use.
    open: AtomicUsize,
}

/// What one read may still spend: it must stop once its caller has gone or once it has
/// run longer than the store's query timeout. SQLite checks it through the progress
/// handler; in-memory loops over search candidates call [`Budget::check`] between them.
#[derive(Clone)]
pub(crate) struct Budget {
    cancelled: Arc<AtomicBool>,
    /// `None` when the timeout is too large to be a point in time.
    deadline: Option<Instant>,
    timeout: Duration,
}

impl Budget {
    fn start(cancelled: Arc<AtomicBool>, timeout: Duration) -> Self {
        Budget { cancelled, deadline: Instant::now().checked_add(timeout), timeout }
    }

    fn cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Relaxed)
    }

    fn past_deadline(&self) -> bool {
        self.deadline.is_some_and(|deadline| Instant::now() >= deadline)
    }

    /// `Ok` while the read may go on; once it may not, the error to answer with.
    pub(crate) fn check(&self) -> Result<()> {
        if self.cancelled() {
            // Nobody reads this one: the request's future is gone.
            return Err(Error::internal("the read was cancelled: its client went away"));
        }
        if self.past_deadline() {
            // A 400, not a 5xx: the client would retry a 5xx for minutes.
            return Err(Error::invalid_parameter(format!(
                "The search took longer than the server's limit of {:?} and was stopped. Narrow the filter \
                 (for example fewer or simpler RLIKE patterns, or a selective equality) or search fewer \
                 experiments.",
                self.timeout
            )));
        }
        Ok(())
    }
}

/// Cancels a read when dropped with the read's future, e.g. when hyper drops the handler
/// of a client that disconnected; the blocking work would otherwise run on unobserved.
struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Whether the writer committed since the last checkpoint.
#[derive(Default)]
struct Checkpoints {
    pending: AtomicBool,
}

impl Checkpoints {
    fn note_commit(&self) {
        self.pending.store(true, Ordering::Relaxed);
    }
}

/// Copies committed WAL frames into the database file every [`CHECKPOINT_INTERVAL`] after
/// a commit, so that the writer thread never stalls on a checkpoint (and its fsync): they
/// were 7 % of log-batch's write time. PASSIVE never blocks the writer or readers. The
/// thread ends once the database (and so `checkpoints`) is dropped.
fn spawn_checkpointer(path: &Path, sync: SyncMode, checkpoints: Weak<Checkpoints>) -> Result<()> {
    let conn = Connection::open(path).map_err(db_error)?;
    configure(&conn, sync).map_err(db_error)?;
    std::thread::Builder::new()
        .name("ff-checkpointer".into())
        .spawn(move || loop {
            std::thread::sleep(CHECKPOINT_INTERVAL);
            let Some(checkpoints) = checkpoints.upgrade() else { return };
            if checkpoints.pending.swap(false, Ordering::Relaxed) {
                if let Err(error) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                    tracing::warn!(%error, "WAL checkpoint failed");
                }
            }
        })
        .map_err(|e| Error::internal(format!("cannot start the checkpoint thread: {e}")))?;
    Ok(())
}

fn configure(conn: &Connection, sync: SyncMode) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(30))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", if sync == SyncMode::Full { "FULL" } else { "NORMAL" })?;
    conn.pragma_update(None, "foreign_keys", "OFF")?;
    conn.pragma_update(None, "cache_size", -16000)?;
    // Writes use a couple of dozen distinct statements; the default cache of 16 thrashed.
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE_CAPACITY);
    // Savepoint (statement) journals stay in memory rather than in a temporary file.
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    Ok(())
}

impl Database {
    /// Opens (creating if needed) the database, runs `init` on the writer connection
    /// before any request is served, and starts the writer thread.
    pub(crate) fn open(
        path: &Path,
        sync: SyncMode,
        query_timeout: Duration,
        init: impl FnOnce(&mut Connection) -> Result<()>,
    ) -> Result<Arc<Self>> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|e| Error::internal(format!("cannot create database folder {}: {e}", parent.display())))?;
        }
        let mut writer = Connection::open(path).map_err(db_error)?;
        configure(&writer, sync).map_err(db_error)?;
        init(&mut writer)?;

        // Checkpoints run on their own thread; the writer's automatic ones are a backstop.
        writer.pragma_update(None, "wal_autocheckpoint", BACKSTOP_CHECKPOINT_PAGES).map_err(db_error)?;
        let checkpoints = Arc::new(Checkpoints::default());
        spawn_checkpointer(path, sync, Arc::downgrade(&checkpoints))?;

        let (sender, mut receiver) = mpsc::channel::<WriteJob>(WRITE_QUEUE_DEPTH);
        std::thread::Builder::new()
            .name("ff-sqlite-writer".into())
            .spawn(move || {
                while let Some(first) = receiver.blocking_recv() {
                    let mut group = vec![first];
                    while group.len() < MAX_GROUP {
                        match receiver.try_recv() {
                            Ok(job) => group.push(job),
                            Err(_) => break,
                        }
                    }
                    commit_group(&writer, group, &checkpoints);
                }
            })
            .map_err(|e| Error::internal(format!("cannot start the writer thread: {e}")))?;

        let readers = ReaderPool {
            idle: Mutex::new(Vec::new()),
            slots: Arc::new(Semaphore::new(max_readers())),
            open: AtomicUsize::new(0),
        };
        Ok(Arc::new(Self {
            writer: sender,
            readers,
            point_reader: Mutex::new(None),
            query_timeout,
            path: path.to_path_buf(),
        }))
    }

    /// Runs `work` in the next group commit and returns its result once committed.
    pub(crate) async fn write<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel::<Result<T>>();
        let job: WriteJob = Box::new(TypedJob { work, reply });
        self.writer.send(job).await.map_err(|_| Error::internal("the database writer has stopped"))?;
        answer.await.map_err(|_| Error::internal("the database writer dropped a request"))?
    }

    /// Runs `work` on a pooled read connection inside one read transaction, so that
    /// multi-query reads see one consistent snapshot. The read stops when its budget runs
    /// out (see [`Budget`]).
    pub(crate) async fn read<T, F>(self: &Arc<Self>, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        self.read_within(move |conn, _| work(conn)).await
    }

    /// A read of a few rows by key (the auth guard's user, token, grant and owner
    /// lookups, one or two per request), run on the calling thread: the hop to a
    /// blocking thread and back costs more than the read itself. Its connection never
    /// waits for a lock (`busy_timeout` 0); when it is busy, in use by another task, or
    /// the read fails, the work goes the ordinary way ([`Database::read`]).
    pub(crate) async fn point_read<T, F>(self: &Arc<Self>, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: Fn(&Connection) -> Result<T> + Send + Sync + 'static,
    {
        if let Ok(mut slot) = self.point_reader.try_lock() {
            if slot.is_none() {
                *slot = open_reader(&self.path).and_then(|conn| conn.busy_timeout(Duration::ZERO).map(|()| conn)).ok();
            }
            if let Some(conn) = slot.as_ref() {
                match work(conn) {
                    Ok(value) if conn.is_autocommit() => return Ok(value),
                    // A failure (SQLITE_BUSY among them) is retried the ordinary way,
                    // which waits and reports as every read does.
                    _ => *slot = None,
                }
            }
        }
        let work = Arc::new(work);
        self.read(move |conn| work(conn)).await
    }

    /// [`Database::read`] for work that also loops in memory: it gets the read's budget
    /// to check as it goes.
    pub(crate) async fn read_within<T, F>(self: &Arc<Self>, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, &Budget) -> Result<T> + Send + 'static,
    {
        let cancel = CancelOnDrop(Arc::new(AtomicBool::new(false)));
        let cancelled = Arc::clone(&cancel.0);
        // Excess reads wait here, before taking a blocking thread, for a connection.
        let slot = Arc::clone(&self.readers.slots)
            .acquire_owned()
            .await
            .map_err(|_| Error::internal("the reader pool is closed"))?;
        let db = Arc::clone(self);
        let outcome = tokio::task::spawn_blocking(move || {
            // The deadline counts from here: waiting for a connection is not the search's fault.
            let budget = Budget::start(cancelled, db.query_timeout);
            let conn = db.take_reader()?;
            let outcome = run_read(&conn, &budget, work);
            db.return_reader(conn);
            // Only now may another read open a connection.
            drop(slot);
            outcome
        })
        .await
        .map_err(|e| Error::internal(format!("read task failed: {e}")))?;
        drop(cancel);
        outcome
    }

    fn take_reader(&self) -> Result<Connection> {
        if let Some(conn) = self.readers.idle.lock().expect("reader pool poisoned").pop() {
            return Ok(conn);
        }
        let conn = open_reader(&self.path).map_err(db_error)?;
        self.readers.open.fetch_add(1, Ordering::Relaxed);
        Ok(conn)
    }

    /// Keeps `conn` for the next read, unless a failure left it inside a transaction.
    fn return_reader(&self, conn: Connection) {
        if conn.is_autocommit() {
            self.readers.idle.lock().expect("reader pool poisoned").push(conn);
        } else {
            drop(conn);
            self.readers.open.fetch_sub(1, Ordering::Relaxed);
        }
    }

    #[cfg(test)]
    fn open_readers(&self) -> usize {
        self.readers.open.load(Ordering::Relaxed)
    }
}

fn open_reader(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI,
    )?;
    conn.busy_timeout(Duration::from_secs(30))?;
    conn.pragma_update(None, "cache_size", -16000)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE_CAPACITY);
    // Reads go through a memory map instead of a pread copy per page: a chart load
    // touches a few hundred scattered pages per run, far more than any page cache holds.
    conn.pragma_update(None, "mmap_size", READER_MMAP_BYTES)?;
    register_functions(&conn)?;
    Ok(conn)
}

/// One read transaction on `conn`, interrupted by SQLite as soon as `budget` runs out.
fn run_read<T>(conn: &Connection, budget: &Budget, work: impl FnOnce(&Connection, &Budget) -> Result<T>) -> Result<T> {
    let watched = budget.clone();
    let mut checks_until_clock = CLOCK_EVERY_CHECKS;
    let stop = move || {
        if watched.cancelled() {
            return true;
        }
        checks_until_clock -= 1;
        if checks_until_clock > 0 {
            return false;
        }
        checks_until_clock = CLOCK_EVERY_CHECKS;
        watched.past_deadline()
    };
    conn.progress_handler(BUDGET_CHECK_STEPS, Some(stop)).map_err(db_error)?;
    let outcome = control(conn, "BEGIN").map_err(db_error).and_then(|()| {
        catch_unwind(AssertUnwindSafe(|| work(conn, budget)))
            .unwrap_or_else(|_| Err(Error::internal("a read query panicked")))
    });
    // Removed before COMMIT, which an exhausted budget would interrupt as well.
    conn.progress_handler(0, None::<fn() -> bool>).map_err(db_error)?;
    if !conn.is_autocommit() {
        control(conn, "COMMIT").map_err(db_error)?;
    }
    // An interrupted statement comes back as whatever error the work made of it; the
    // budget's own error says why.
    outcome.map_err(|error| budget.check().err().unwrap_or(error))
}

/// SQL functions searches use: `ff_regexp(text, pattern)` for the RLIKE extension, with
/// the core search language's regex semantics (an invalid pattern matches nothing).
fn register_functions(conn: &Connection) -> rusqlite::Result<()> {
    use rusqlite::functions::FunctionFlags;
    conn.create_scalar_function(
        "ff_regexp",
        2,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            let text = ctx.get::<Option<String>>(0)?;
            // The compiled pattern is cached per statement; an invalid one matches nothing.
            let regex =
                ctx.get_or_create_aux(1, |value| -> Result<Option<ferroflow_core::search::Regex>, rusqlite::Error> {
                    Ok(value.as_str().ok().and_then(|p| ferroflow_core::search::Regex::new(p).ok()))
                })?;
            Ok(match (text, regex.as_ref()) {
                (Some(text), Some(regex)) => regex.is_match(&text),
                _ => false,
            })
        },
    )
}

/// Runs a transaction-control statement from the statement cache: parsing `SAVEPOINT` and
/// friends anew for every write was a quarter of the write path's CPU (bench/PROFILE.md).
fn control(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(|_| ())
}

fn run_guarded<T>(conn: &Connection, work: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
    catch_unwind(AssertUnwindSafe(|| work(conn))).unwrap_or_else(|_| Err(Error::internal("a write request panicked")))
}

fn run_in_savepoint<T>(conn: &Connection, work: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
    control(conn, "SAVEPOINT request").map_err(db_error)?;
    let outcome = run_guarded(conn, work);
    if outcome.is_err() && conn.is_autocommit() {
        // SQLite rolled the whole transaction back itself (it may on SQLITE_FULL or an I/O
        // error): the savepoint is gone with it, and the work's error is the one to report.
        return outcome;
    }
    let closing = if outcome.is_ok() {
        control(conn, "RELEASE request")
    } else {
        control(conn, "ROLLBACK TO request").and_then(|_| control(conn, "RELEASE request"))
    };
    closing.map_err(db_error)?;
    outcome
}

fn commit_group(conn: &Connection, group: Vec<WriteJob>, checkpoints: &Checkpoints) {
    if let Err(error) = control(conn, "BEGIN IMMEDIATE") {
        let error = db_error(error);
        for job in group {
            job.fail(error.clone());
        }
        return;
    }
    // A savepoint per job lets one failing request roll back alone; a job alone in its
    // group needs none (its savepoint journal was a tenth of log-batch's write time): if
    // it fails, the whole transaction is rolled back instead.
    let isolated = group.len() > 1;
    let mut lone_failure = false;
    let mut completions: Vec<Completion> = Vec::with_capacity(group.len());
    let mut jobs = group.into_iter();
    for job in jobs.by_ref() {
        let (completion, failure) = job.run(conn, isolated);
        completions.push(completion);
        lone_failure |= failure.is_some() && !isolated;
        if let Some(error) = failure.filter(|_| conn.is_autocommit()) {
            // SQLite rolled the whole transaction back (a full disk, an I/O error): the
            // jobs before lost their work with it, and the jobs after must not run outside
            // a transaction, where each statement would commit on its own.
            for job in jobs {
                job.fail(error.clone());
            }
            for completion in completions {
                completion(Err(error.clone()));
            }
            return;
        }
    }
    let committed = if lone_failure {
        control(conn, "ROLLBACK").map_err(db_error)
    } else {
        let committed = control(conn, "COMMIT").map_err(db_error);
        if committed.is_err() {
            let _ = control(conn, "ROLLBACK");
        }
        committed
    };
    if committed.is_ok() {
        checkpoints.note_commit();
    }
    for completion in completions {
        completion(committed.clone());
    }
}

impl Database {
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferroflow_core::ErrorCode;

    /// Runs for minutes unless interrupted (finite, so a failing test still ends).
    const LONG_QUERY: &str =
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 10000000000) SELECT count(*) FROM c";

    fn database(query_timeout: Duration) -> (Arc<Database>, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = Database::open(&dir.path().join("db.sqlite"), SyncMode::Normal, query_timeout, |conn| {
            conn.execute_batch("CREATE TABLE t(x)").map_err(db_error)
        })
        .expect("open database");
        (db, dir)
    }

    fn count(conn: &Connection) -> Result<i64> {
        conn.query_row("SELECT count(*) FROM t", [], |row| row.get(0)).map_err(db_error)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn reads_beyond_the_pool_wait_for_a_connection_instead_of_opening_one() {
        let (db, _dir) = database(DEFAULT_QUERY_TIMEOUT);
        let peak = Arc::new(AtomicUsize::new(0));
        let reads: Vec<_> = (0..max_readers() * 8)
            .map(|_| {
                let (db, observer, peak) = (Arc::clone(&db), Arc::clone(&db), Arc::clone(&peak));
                tokio::spawn(async move {
                    db.read(move |conn| {
                        peak.fetch_max(observer.open_readers(), Ordering::Relaxed);
                        // Holds the connection a while, so that the reads overlap.
                        std::thread::sleep(Duration::from_millis(5));
                        count(conn)
                    })
                    .await
                })
            })
            .collect();
        for read in reads {
            assert_eq!(read.await.expect("read task").expect("read"), 0);
        }
        let peak = peak.load(Ordering::Relaxed);
        assert!(peak <= max_readers(), "{peak} reader connections open, the bound is {}", max_readers());
        assert!(db.open_readers() <= max_readers());
        assert!(db.open_readers() > 0, "connections are kept for reuse");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn dropping_a_read_interrupts_its_query() {
        let (db, _dir) = database(DEFAULT_QUERY_TIMEOUT);
        let (started, has_started) = oneshot::channel::<()>();
        let (report, reported) = std::sync::mpsc::channel::<std::result::Result<i64, String>>();
        let read = tokio::spawn({
            let db = Arc::clone(&db);
            async move {
                db.read(move |conn| {
                    let _ = started.send(());
                    let outcome = conn.query_row(LONG_QUERY, [], |row| row.get::<_, i64>(0));
                    let _ = report.send(outcome.map_err(|e| e.to_string()));
                    Ok(())
                })
                .await
            }
        });
        has_started.await.expect("the read started");
        // What hyper does when the client disconnects: the handler's future is dropped.
        read.abort();
        let outcome = tokio::task::spawn_blocking(move || reported.recv_timeout(Duration::from_secs(120)))
            .await
            .expect("waiter")
            .expect("the query ended");
        let error = outcome.expect_err("the query was interrupted, not run to its end");
        assert!(error.contains("interrupt"), "{error}");
        // The connection went back to the pool in a usable state.
        assert_eq!(db.read(count).await.expect("a later read"), 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_read_past_its_deadline_is_stopped_with_a_400() {
        let (db, _dir) = database(Duration::from_millis(1));
        let error = db
            .read(|conn| conn.query_row(LONG_QUERY, [], |row| row.get::<_, i64>(0)).map_err(db_error))
            .await
            .expect_err("stopped");
        assert_eq!(error.code, ErrorCode::InvalidParameterValue, "{error}");
        assert!(error.message.starts_with("The search took longer than the server's limit of 1ms"), "{error}");

        // In-memory loops stop on the same budget.
        let error = db.read_within(|_, budget| (0u64..).try_for_each(|_| budget.check())).await.expect_err("stopped");
        assert_eq!(error.code, ErrorCode::InvalidParameterValue, "{error}");
        assert!(error.message.contains("Narrow the filter"), "{error}");

        // A quick read is unaffected.
        assert_eq!(db.read(count).await.expect("a quick read"), 0);
    }

    #[test]
    fn errors_name_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("no-such-folder").join("ferroflow.db");
        let failure = Connection::open_with_flags(&missing, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap_err();
        assert!(failure.to_string().contains(&*dir.path().to_string_lossy()), "rusqlite names the file: {failure}");
        let error = db_error(failure);
        assert_eq!(error.code, ErrorCode::InternalError);
        assert_eq!(error.message, "database error: unable to open database file");
    }

    /// SQLite may roll a whole transaction back by itself when a statement fails with
    /// SQLITE_FULL: the jobs of that group commit must all fail, and none may then run
    /// outside a transaction (where it would commit while its caller hears of a failure).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_database_fails_the_whole_group_and_commits_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("full.db");
        let db = Database::open(&path, SyncMode::Normal, DEFAULT_QUERY_TIMEOUT, |conn| {
            conn.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, payload BLOB)").map_err(db_error)?;
            // A real SQLITE_FULL, from a page limit instead of a full disk.
            let pages: i64 = conn.query_row("PRAGMA page_count", [], |row| row.get(0)).map_err(db_error)?;
            conn.query_row(&format!("PRAGMA max_page_count = {}", pages + 8), [], |_| Ok(())).map_err(db_error)?;
            Ok(())
        })
        .unwrap();

        // Holds the writer so that the next three jobs queue up and form one group.
        let (started, has_started) = std::sync::mpsc::channel();
        let (release, released) = std::sync::mpsc::channel::<()>();
        let holder = tokio::spawn({
            let db = Arc::clone(&db);
            async move {
                db.write(move |_| {
                    started.send(()).unwrap();
                    released.recv().unwrap();
                    Ok(())
                })
                .await
            }
        });
        has_started.recv().unwrap();
        let insert = |bytes: usize| {
            let db = Arc::clone(&db);
            tokio::spawn(async move {
                db.write(move |conn| {
                    conn.execute("INSERT INTO t (payload) VALUES (?1)", [vec![7u8; bytes]]).map_err(db_error)?;
                    Ok(())
                })
                .await
            })
        };
        let before = insert(10);
        let too_big = insert(1 << 20);
        let after = insert(10);
        while db.writer.capacity() > WRITE_QUEUE_DEPTH - 3 {
            tokio::task::yield_now().await;
        }
        release.send(()).unwrap();
        holder.await.unwrap().unwrap();

        let outcomes = [before.await.unwrap(), too_big.await.unwrap(), after.await.unwrap()];
        for outcome in &outcomes {
            let error = outcome.as_ref().expect_err("every job of the group fails");
            assert_eq!(error.code, ErrorCode::ResourceExhausted, "{error:?}");
        }
        let conn = Connection::open(&path).unwrap();
        let rows: i64 = conn.query_row("SELECT COUNT(*) FROM t", [], |row| row.get(0)).unwrap();
        assert_eq!(rows, 0, "a failed write changed the database");

        // Writes that fit work again.
        db.write(|conn| conn.execute("INSERT INTO t (payload) VALUES (x'00')", []).map_err(db_error)).await.unwrap();
    }
}
