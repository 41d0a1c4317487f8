//! One row per (run, metric key) in `latest_metrics`: MLflow's latest value, plus a summary
//! of the key's history that lets a chart read sample it without touching every point.
//! The rules are shared by both SQL stores; each loads and saves the row itself.
//!
//! The summary is the point count and, for a *regular* series, its shape: a series is
//! regular while every point has been appended with a step exactly one stride past the
//! previous one (steps 0, 1, 2, … or 0, 10, 20, …, one point per step), which is how
//! training loops log. The i-th point of a regular series (in the stored (step,
//! timestamp, value) order) has step `first_step + i * step_stride`, so the chart
//! sampler can address the rows it keeps by primary key. Anything else (a repeated step,
//! a step logged out of order, a changed stride) makes the series irregular for good, and
//! charts fall back to one ordered scan of it.

use ferroflow_core::types::Metric;

use crate::common::stored_metric_value;

/// The history summary of one (run, key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    pub point_count: i64,
    pub first_step: i64,
    /// 0 until a second point fixes it.
    pub step_stride: i64,
    pub regular: bool,
    /// For a regular series: no point's timestamp is earlier than the previous point's.
    /// Then MLflow's history order (timestamp, step, value) is the primary key's order.
    pub time_ordered: bool,
}

impl Shape {
    pub const EMPTY: Shape = Shape { point_count: 0, first_step: 0, step_stride: 0, regular: true, time_ordered: true };

    /// The shape after appending a point at `step`.
    pub fn with_point(self, step: i64) -> Shape {
        let mut next = self;
        next.point_count += 1;
        if self.point_count == 0 {
            next.first_step = step;
            next.regular = true;
        } else if self.regular {
            let last_step = self.first_step as i128 + (self.point_count as i128 - 1) * self.step_stride as i128;
            if self.point_count == 1 && step > self.first_step {
                next.step_stride = step - self.first_step;
            } else if self.step_stride == 0 || step as i128 != last_step + self.step_stride as i128 {
                next.regular = false;
            }
        }
        next
    }

    /// The step of the point at `index`, for a regular series.
    pub fn step_at(&self, index: i64) -> i64 {
        self.first_step + index * self.step_stride
    }

    /// For a regular series, the index range `[first, last]` of the points whose steps
    /// lie in `[low, high]`; `None` when there are none.
    pub fn index_range(&self, low: i64, high: i64) -> Option<(i64, i64)> {
        if self.point_count == 0 {
            return None;
        }
        let count = self.point_count as i128;
        let (first, stride) = (self.first_step as i128, self.step_stride.max(1) as i128);
        let (low, high) = (low as i128, high as i128);
        // ceil((low - first) / stride) and floor((high - first) / stride), clamped.
        let start = if low <= first { 0 } else { (low - first + stride - 1) / stride };
        let end = if high < first { -1 } else { ((high - first) / stride).min(count - 1) };
        (start <= end).then_some((start as i64, end as i64))
    }
}

/// The latest point of a key and its history's shape, as a batch updates them.
#[derive(Debug, Clone)]
pub struct Series {
    pub latest: Option<Metric>,
    pub shape: Shape,
    /// Whether the row must be written back.
    pub changed: bool,
    /// Whether the point count must be taken again from the history before saving.
    pub recount: bool,
}

impl Series {
    /// The series as stored: its latest point and shape, or none for a new key.
    pub fn loaded(stored: Option<(Metric, Shape)>) -> Series {
        let (latest, shape) = match stored {
            Some((latest, shape)) => (Some(latest), shape),
            None => (None, Shape::EMPTY),
        };
        Series { latest, shape, changed: false, recount: false }
    }

    /// Records a point that was just inserted into the history (not an ignored duplicate).
    pub fn append(&mut self, point: &Metric) {
        // While the series is regular its latest point is its last one.
        if self.latest.as_ref().is_some_and(|last| point.timestamp < last.timestamp) {
            self.shape.time_ordered = false;
        }
        self.shape = self.shape.with_point(point.step);
        if self.latest.as_ref().is_none_or(|latest| point.is_newer_than(latest)) {
            self.latest = Some(point.clone());
        }
        self.changed = true;
    }

    /// Records points of which an unknown subset was inserted: the series can no longer
    /// be known to be regular, and its count is taken again when it is saved.
    pub fn append_some_of(&mut self, points: &[&Metric]) {
        for point in points {
            if self.latest.as_ref().is_none_or(|latest| point.is_newer_than(latest)) {
                self.latest = Some((*point).clone());
            }
        }
        self.shape.regular = false;
        self.recount = true;
        self.changed = true;
    }

    /// The point to write back, when there is one and something changed.
    pub fn to_save(&self) -> Option<&Metric> {
        self.latest.as_ref().filter(|_| self.changed)
    }
}

/// A batch's points grouped by key (keys in byte order) and, within a key, in stored
/// order (step, timestamp, value; a NaN sorts as 0 just after a 0), with values as they
/// are stored ([`stored_metric_value`]: infinities clamped, -0.0 folded). Appending a key's points in this order keeps a series
/// that arrives in order regular, and costs one read and one write of its summary row.
pub fn points_by_key(metrics: &[Metric]) -> Vec<(String, Vec<Metric>)> {
    let mut stored: Vec<Metric> = metrics
        .iter()
        .map(|metric| {
            let mut point = metric.clone();
            point.value = stored_metric_value(point.value);
            point
        })
        .collect();
    let order_key = |point: &Metric| {
        let (value, is_nan) = if point.value.is_nan() { (0.0, true) } else { (point.value, false) };
        (point.step, point.timestamp, value, is_nan)
    };
    stored.sort_by(|a, b| {
        a.key.cmp(&b.key).then_with(|| order_key(a).partial_cmp(&order_key(b)).unwrap_or(std::cmp::Ordering::Equal))
    });
    let mut groups: Vec<(String, Vec<Metric>)> = Vec::new();
    for point in stored {
        match groups.last_mut() {
            Some((key, points)) if *key == point.key => points.push(point),
            _ => groups.push((point.key.clone(), vec![point])),
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape_of(steps: &[i64]) -> Shape {
        steps.iter().fold(Shape::EMPTY, |shape, step| shape.with_point(*step))
    }

    #[test]
    fn appending_one_stride_at_a_time_stays_regular() {
        assert_eq!(
            shape_of(&[0, 1, 2, 3]),
            Shape { point_count: 4, first_step: 0, step_stride: 1, regular: true, time_ordered: true }
        );
        assert_eq!(
            shape_of(&[5, 15, 25]),
            Shape { point_count: 3, first_step: 5, step_stride: 10, regular: true, time_ordered: true }
        );
        assert!(shape_of(&[7]).regular);
    }

    #[test]
    fn repeats_gaps_and_reordering_make_a_series_irregular() {
        assert!(!shape_of(&[0, 0]).regular);
        assert!(!shape_of(&[0, 1, 1]).regular);
        assert!(!shape_of(&[0, 1, 3]).regular);
        assert!(!shape_of(&[3, 2]).regular);
        assert!(!shape_of(&[0, 2, 1]).regular);
        // Irregular for good, even if later points would fit again.
        assert!(!shape_of(&[0, 2, 1, 4, 6]).regular);
        assert_eq!(shape_of(&[0, 2, 1]).point_count, 3);
    }

    #[test]
    fn index_ranges_clamp_to_the_series() {
        let shape = shape_of(&[10, 20, 30, 40, 50]);
        assert_eq!(shape.index_range(i64::MIN, i64::MAX), Some((0, 4)));
        assert_eq!(shape.index_range(15, 40), Some((1, 3)));
        assert_eq!(shape.index_range(20, 20), Some((1, 1)));
        assert_eq!(shape.index_range(21, 29), None);
        assert_eq!(shape.index_range(60, 70), None);
        assert_eq!(shape.index_range(0, 5), None);
        assert_eq!(shape.step_at(3), 40);
        assert_eq!(shape_of(&[3]).index_range(0, 3), Some((0, 0)));
    }
}
