//! MLflow's tables as the reader sees them, on either engine MLflow's SQLAlchemy store
//! runs on here: rows of [`Cell`]s from one statement at a time, parameters written `?1`,
//! `?2`, … (SQLite's spelling; rewritten to `$1`, `$2`, … for PostgreSQL). The reader's
//! SQL is written once, in the subset both engines read alike.

use std::path::Path;
use std::sync::mpsc;

use ferroflow_postgres::{PgDatabase, PgOptions, PgUri};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};
use tokio_postgres::types::{ToSql, Type};

use super::super::{Result, TransferError};

/// One value of a row, whatever the engine's type for it.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Bool(bool),
}

impl Cell {
    pub fn text(&self) -> Option<String> {
        match self {
            Cell::Text(text) => Some(text.clone()),
            Cell::Int(n) => Some(n.to_string()),
            _ => None,
        }
    }

    pub fn int(&self) -> Option<i64> {
        match self {
            Cell::Int(n) => Some(*n),
            Cell::Bool(b) => Some(*b as i64),
            Cell::Text(text) => text.parse().ok(),
            _ => None,
        }
    }

    pub fn real(&self) -> Option<f64> {
        match self {
            Cell::Real(x) => Some(*x),
            Cell::Int(n) => Some(*n as f64),
            _ => None,
        }
    }

    /// SQLite keeps MLflow's booleans as 0/1 integers, PostgreSQL as booleans.
    pub fn bool(&self) -> Option<bool> {
        match self {
            Cell::Bool(b) => Some(*b),
            Cell::Int(n) => Some(*n != 0),
            _ => None,
        }
    }
}

pub type Row = Vec<Cell>;

/// How the reader reaches MLflow's tables.
pub trait MlflowTables {
    /// Runs one read-only statement.
    fn rows(&mut self, sql: &str, params: &[Cell]) -> Result<Vec<Row>>;
    fn has_table(&mut self, table: &str) -> Result<bool>;
    fn has_column(&mut self, table: &str, column: &str) -> Result<bool>;
    /// A column that orders a table's rows as they were written, for tables MLflow gives
    /// no order of their own (tags, inputs): SQLite's `rowid`, PostgreSQL's `ctid`.
    fn insertion_order(&self) -> &'static str;
    /// The database, as error messages name it (a URI without its password).
    fn name(&self) -> &str;
}

pub fn error(name: &str, message: impl Into<String>) -> TransferError {
    TransferError::Mlflow { path: name.to_string(), message: message.into() }
}

/// An MLflow database file, opened read-only.
pub struct SqliteTables {
    name: String,
    conn: Connection,
}

impl SqliteTables {
    pub fn open(file: &Path) -> Result<Self> {
        let name = file.display().to_string();
        if !file.is_file() {
            return Err(error(&name, "no such file"));
        }
        let conn =
            Connection::open_with_flags(file, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
                .map_err(|e| error(&name, e.to_string()))?;
        Ok(SqliteTables { name, conn })
    }
}

fn sqlite_cell(value: ValueRef<'_>) -> Cell {
    match value {
        ValueRef::Null => Cell::Null,
        ValueRef::Integer(n) => Cell::Int(n),
        ValueRef::Real(x) => Cell::Real(x),
        ValueRef::Text(bytes) | ValueRef::Blob(bytes) => Cell::Text(String::from_utf8_lossy(bytes).into_owned()),
    }
}

fn sqlite_param(cell: &Cell) -> rusqlite::types::Value {
    use rusqlite::types::Value;
    match cell {
        Cell::Null => Value::Null,
        Cell::Int(n) => Value::Integer(*n),
        Cell::Real(x) => Value::Real(*x),
        Cell::Text(text) => Value::Text(text.clone()),
        Cell::Bool(b) => Value::Integer(*b as i64),
    }
}

impl MlflowTables for SqliteTables {
    fn rows(&mut self, sql: &str, params: &[Cell]) -> Result<Vec<Row>> {
        let fail = |e: rusqlite::Error| error(&self.name, e.to_string());
        let mut statement = self.conn.prepare_cached(sql).map_err(fail)?;
        let columns = statement.column_count();
        let rows = statement
            .query_map(rusqlite::params_from_iter(params.iter().map(sqlite_param)), |row| {
                (0..columns).map(|i| row.get_ref(i).map(sqlite_cell)).collect::<rusqlite::Result<Row>>()
            })
            .map_err(fail)?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(fail);
        rows
    }

    fn has_table(&mut self, table: &str) -> Result<bool> {
        let found = self.rows(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
            &[Cell::Text(table.into())],
        )?;
        Ok(first_int(&found) > 0)
    }

    fn has_column(&mut self, table: &str, column: &str) -> Result<bool> {
        let found = self.rows(
            "SELECT count(*) FROM pragma_table_info(?1) WHERE name = ?2",
            &[Cell::Text(table.into()), Cell::Text(column.into())],
        )?;
        Ok(first_int(&found) > 0)
    }

    fn insertion_order(&self) -> &'static str {
        "rowid"
    }

    fn name(&self) -> &str {
        &self.name
    }
}

fn first_int(rows: &[Row]) -> i64 {
    rows.first().and_then(|row| row.first()).and_then(Cell::int).unwrap_or(0)
}

/// `?N` placeholders as PostgreSQL spells them. The reader's SQL has no `?` elsewhere.
fn postgres_sql(sql: &str) -> String {
    sql.replace('?', "$")
}

/// One statement sent to the PostgreSQL reader's thread, and where its rows go.
type Request = (String, Vec<Cell>, mpsc::Sender<Result<Vec<Row>>>);

/// An MLflow database on PostgreSQL. The import's source is read synchronously, between
/// the target store's awaits, so the connection lives on a thread of its own with its
/// own runtime; each statement is a message to it.
pub struct PostgresTables {
    name: String,
    requests: Option<mpsc::Sender<Request>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl PostgresTables {
    pub fn open(uri: &str) -> Result<Self> {
        let parsed = PgUri::parse(uri).map_err(|e| error(uri, e.message))?;
        let name = parsed.redacted().to_string();
        let (requests, inbox) = mpsc::channel::<Request>();
        let (ready, started) = mpsc::channel::<Result<()>>();
        let thread_name = name.clone();
        let thread = std::thread::Builder::new()
            .name("mlflow-postgres".into())
            .spawn(move || serve(PgOptions::new(parsed), thread_name, inbox, ready))
            .map_err(|e| error(&name, format!("cannot start its reader thread: {e}")))?;
        started.recv().map_err(|_| error(&name, "its reader thread stopped"))??;
        Ok(PostgresTables { name, requests: Some(requests), thread: Some(thread) })
    }
}

impl Drop for PostgresTables {
    fn drop(&mut self) {
        // Closing the channel ends the thread's loop.
        self.requests.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(options: PgOptions, name: String, inbox: mpsc::Receiver<Request>, ready: mpsc::Sender<Result<()>>) {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            let _ = ready.send(Err(error(&name, format!("cannot start a runtime: {e}"))));
            return;
        }
    };
    runtime.block_on(async move {
        let database = match PgDatabase::connect(&options).await {
            Ok(database) => database,
            Err(e) => {
                let _ = ready.send(Err(error(&name, e.message)));
                return;
            }
        };
        let _ = ready.send(Ok(()));
        while let Ok((sql, params, reply)) = inbox.recv() {
            let _ = reply.send(postgres_rows(&database, &sql, &params).await.map_err(|message| error(&name, message)));
        }
    });
}

/// Runs one statement, each parameter converted to the type PostgreSQL expects for it
/// (MLflow's integer columns are int4 or int8, which the driver will not mix up).
async fn postgres_rows(database: &PgDatabase, sql: &str, params: &[Cell]) -> std::result::Result<Vec<Row>, String> {
    let client = database.client().await.map_err(|e| e.message)?;
    let statement = client.prepare_cached(&postgres_sql(sql)).await.map_err(|e| e.to_string())?;
    let mut values: Vec<Box<dyn ToSql + Sync + Send>> = Vec::with_capacity(params.len());
    for (cell, wanted) in params.iter().zip(statement.params()) {
        values.push(match *wanted {
            Type::INT2 => Box::new(cell.int().map(|n| n as i16)),
            Type::INT4 => Box::new(cell.int().map(|n| n as i32)),
            Type::INT8 => Box::new(cell.int()),
            Type::FLOAT8 => Box::new(cell.real()),
            Type::BOOL => Box::new(cell.bool()),
            _ => Box::new(cell.text()),
        });
    }
    let refs: Vec<&(dyn ToSql + Sync)> = values.iter().map(|v| v.as_ref() as &(dyn ToSql + Sync)).collect();
    let rows = client.query(&statement, &refs).await.map_err(|e| e.to_string())?;
    rows.iter()
        .map(|row| (0..row.len()).map(|i| postgres_cell(row, i)).collect::<std::result::Result<Row, String>>())
        .collect()
}

fn postgres_cell(row: &tokio_postgres::Row, i: usize) -> std::result::Result<Cell, String> {
    let column = &row.columns()[i];
    let fail = |e: tokio_postgres::Error| format!("column {}: {e}", column.name());
    let cell = match *column.type_() {
        Type::INT2 => row.try_get::<_, Option<i16>>(i).map_err(fail)?.map(|n| Cell::Int(n.into())),
        Type::INT4 => row.try_get::<_, Option<i32>>(i).map_err(fail)?.map(|n| Cell::Int(n.into())),
        Type::INT8 => row.try_get::<_, Option<i64>>(i).map_err(fail)?.map(Cell::Int),
        Type::FLOAT4 => row.try_get::<_, Option<f32>>(i).map_err(fail)?.map(|x| Cell::Real(x.into())),
        Type::FLOAT8 => row.try_get::<_, Option<f64>>(i).map_err(fail)?.map(Cell::Real),
        Type::BOOL => row.try_get::<_, Option<bool>>(i).map_err(fail)?.map(Cell::Bool),
        _ => row.try_get::<_, Option<String>>(i).map_err(fail)?.map(Cell::Text),
    };
    Ok(cell.unwrap_or(Cell::Null))
}

impl MlflowTables for PostgresTables {
    fn rows(&mut self, sql: &str, params: &[Cell]) -> Result<Vec<Row>> {
        let (reply, answer) = mpsc::channel();
        let requests = self.requests.as_ref().ok_or_else(|| error(&self.name, "the reader is closed"))?;
        requests
            .send((sql.to_string(), params.to_vec(), reply))
            .map_err(|_| error(&self.name, "the reader stopped"))?;
        answer.recv().map_err(|_| error(&self.name, "the reader stopped"))?
    }

    fn has_table(&mut self, table: &str) -> Result<bool> {
        // to_regclass follows the connection's search_path, as MLflow's SQLAlchemy does.
        let found =
            self.rows("SELECT count(*) FROM pg_class WHERE oid = to_regclass(?1)", &[Cell::Text(table.into())])?;
        Ok(first_int(&found) > 0)
    }

    fn has_column(&mut self, table: &str, column: &str) -> Result<bool> {
        let found = self.rows(
            "SELECT count(*) FROM pg_attribute WHERE attrelid = to_regclass(?1) AND attname = ?2 \
             AND attnum > 0 AND NOT attisdropped",
            &[Cell::Text(table.into()), Cell::Text(column.into())],
        )?;
        Ok(first_int(&found) > 0)
    }

    fn insertion_order(&self) -> &'static str {
        "ctid"
    }

    fn name(&self) -> &str {
        &self.name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_read_both_engines_spellings() {
        assert_eq!(Cell::Int(1).bool(), Some(true));
        assert_eq!(Cell::Bool(false).bool(), Some(false));
        assert_eq!(Cell::Int(7).text().as_deref(), Some("7"));
        assert_eq!(Cell::Text("12".into()).int(), Some(12));
        assert_eq!(Cell::Int(3).real(), Some(3.0));
        assert_eq!(Cell::Null.text(), None);
    }

    #[test]
    fn placeholders_are_rewritten_for_postgres() {
        assert_eq!(
            postgres_sql("SELECT a FROM t WHERE b > ?1 AND c = ?12"),
            "SELECT a FROM t WHERE b > $1 AND c = $12"
        );
    }

    #[test]
    fn sqlite_rows_come_back_as_cells() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("t.db");
        let conn = Connection::open(&file).unwrap();
        conn.execute_batch("CREATE TABLE t (a INTEGER, b REAL, c TEXT, d BOOLEAN); INSERT INTO t VALUES (1, 2.5, 'x', 1), (NULL, NULL, NULL, 0);")
            .unwrap();
        drop(conn);
        let mut tables = SqliteTables::open(&file).unwrap();
        let rows =
            tables.rows("SELECT a, b, c, d FROM t WHERE a IS NULL OR a >= ?1 ORDER BY rowid", &[Cell::Int(1)]).unwrap();
        assert_eq!(rows[0], vec![Cell::Int(1), Cell::Real(2.5), Cell::Text("x".into()), Cell::Int(1)]);
        assert_eq!(rows[1], vec![Cell::Null, Cell::Null, Cell::Null, Cell::Int(0)]);
        assert!(tables.has_table("t").unwrap() && !tables.has_table("u").unwrap());
        assert!(tables.has_column("t", "c").unwrap() && !tables.has_column("t", "e").unwrap());
    }
}
