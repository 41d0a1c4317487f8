//! The SQLite side of the history summary kept in `latest_metrics`
//! ([`ferroflow_store::series`] holds the rules): reading and writing its row.

use ferroflow_core::types::Metric;
use ferroflow_core::Result;
use ferroflow_store::series::Series;
pub(crate) use ferroflow_store::series::Shape;
use rusqlite::{params, Connection, OptionalExtension};

use crate::db::db_error;

/// `(value, is_nan)` as stored: NaN becomes 0 with the flag set (SQLite has no NaN).
pub(crate) fn stored_value(value: f64) -> (f64, bool) {
    if value.is_nan() {
        (0.0, true)
    } else {
        (value, false)
    }
}

/// A series' row in `latest_metrics`, with the point updates the batch applies to it.
pub(crate) struct StoredSeries {
    run_pk: i64,
    key_id: i64,
    pub series: Series,
}

impl StoredSeries {
    pub(crate) fn load(conn: &Connection, run_pk: i64, key_id: i64) -> Result<StoredSeries> {
        let row = conn
            .prepare_cached(
                "SELECT step, timestamp, value, is_nan, point_count, first_step, step_stride, regular, time_ordered \
                 FROM latest_metrics WHERE run_pk = ?1 AND key_id = ?2",
            )
            .map_err(db_error)?
            .query_row(params![run_pk, key_id], |row| {
                let is_nan: bool = row.get(3)?;
                let value: f64 = row.get(2)?;
                let latest = Metric::new("", if is_nan { f64::NAN } else { value }, row.get(1)?, row.get(0)?);
                let shape = Shape {
                    point_count: row.get(4)?,
                    first_step: row.get(5)?,
                    step_stride: row.get(6)?,
                    regular: row.get(7)?,
                    time_ordered: row.get(8)?,
                };
                Ok((latest, shape))
            })
            .optional()
            .map_err(db_error)?;
        Ok(StoredSeries { run_pk, key_id, series: Series::loaded(row) })
    }

    pub(crate) fn save(&mut self, conn: &Connection) -> Result<()> {
        if self.series.recount {
            self.series.shape.point_count = conn
                .prepare_cached("SELECT count(*) FROM metrics WHERE run_pk = ?1 AND key_id = ?2")
                .map_err(db_error)?
                .query_row(params![self.run_pk, self.key_id], |row| row.get(0))
                .map_err(db_error)?;
        }
        let Some(latest) = self.series.to_save() else { return Ok(()) };
        let (value, is_nan) = stored_value(latest.value);
        let shape = &self.series.shape;
        conn.prepare_cached(
            "INSERT INTO latest_metrics (run_pk, key_id, step, timestamp, value, is_nan, point_count, first_step, \
             step_stride, regular, time_ordered) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) \
             ON CONFLICT (run_pk, key_id) DO UPDATE SET step = excluded.step, timestamp = excluded.timestamp, \
             value = excluded.value, is_nan = excluded.is_nan, point_count = excluded.point_count, \
             first_step = excluded.first_step, step_stride = excluded.step_stride, regular = excluded.regular, \
             time_ordered = excluded.time_ordered",
        )
        .map_err(db_error)?
        .execute(params![
            self.run_pk,
            self.key_id,
            latest.step,
            latest.timestamp,
            value,
            is_nan,
            shape.point_count,
            shape.first_step,
            shape.step_stride,
            shape.regular,
            shape.time_ordered
        ])
        .map_err(db_error)?;
        Ok(())
    }
}

/// The shape of one run's key, if it has any point.
pub(crate) fn shape(conn: &Connection, run_pk: i64, key_id: i64) -> Result<Option<Shape>> {
    conn.prepare_cached(
        "SELECT point_count, first_step, step_stride, regular, time_ordered FROM latest_metrics \
         WHERE run_pk = ?1 AND key_id = ?2",
    )
    .map_err(db_error)?
    .query_row(params![run_pk, key_id], |row| {
        Ok(Shape {
            point_count: row.get(0)?,
            first_step: row.get(1)?,
            step_stride: row.get(2)?,
            regular: row.get(3)?,
            time_ordered: row.get(4)?,
        })
    })
    .optional()
    .map_err(db_error)
}

/// v5: whether a regular series' timestamps follow its steps (existing rows: unknown, so
/// no).
pub(crate) const SCHEMA_TIME_ORDERED: &str =
    "ALTER TABLE latest_metrics ADD COLUMN time_ordered INTEGER NOT NULL DEFAULT 0;";

/// v4: the history summary columns, filled in for existing data (which is conservatively
/// marked irregular: its insertion order is unknown).
pub(crate) const SCHEMA: &str = r#"
    ALTER TABLE latest_metrics ADD COLUMN point_count INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE latest_metrics ADD COLUMN first_step INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE latest_metrics ADD COLUMN step_stride INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE latest_metrics ADD COLUMN regular INTEGER NOT NULL DEFAULT 0;
    UPDATE latest_metrics SET point_count = (
        SELECT count(*) FROM metrics m WHERE m.run_pk = latest_metrics.run_pk AND m.key_id = latest_metrics.key_id
    );
"#;

impl StoredSeries {
    /// A series computed elsewhere (an import's summary of a whole history), to save.
    pub(crate) fn computed(run_pk: i64, key_id: i64, series: Series) -> StoredSeries {
        StoredSeries { run_pk, key_id, series }
    }
}

/// One series' stored points with steps in `?3..=?4`, in primary-key order (an index range
/// scan): bulk-interval's sampling and the chart read both walk it. Binds run_pk, key_id,
/// the low and the high step; columns step, timestamp, value, is_nan.
pub(crate) const STEP_RANGE_SQL: &str = "SELECT step, timestamp, value, is_nan FROM metrics \
     WHERE run_pk = ?1 AND key_id = ?2 AND step BETWEEN ?3 AND ?4 ORDER BY step, timestamp, value, is_nan";
