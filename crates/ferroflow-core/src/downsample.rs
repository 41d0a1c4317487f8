//! Server-side downsampling of one metric series for the web UI's charts.
//!
//! A [`Downsampler`] is fed a series' points in (step, timestamp, value) order and keeps,
//! per bucket of equal step width, the point with the smallest and the one with the
//! largest value, so spikes survive any reduction. While the series has no more points
//! than buckets it keeps them all, unchanged. Memory is bounded by the bucket count, so
//! a store can feed it a series of any length straight from a scan.
//!
//! Values are ordered by [`f64::total_cmp`]: NaN counts as larger than +∞ (and a
//! negative NaN smaller than −∞), so a NaN point always survives as its bucket's maximum.

use serde::Serialize;

/// One point of a chart series.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ChartPoint {
    pub step: i64,
    pub timestamp: i64,
    #[serde(serialize_with = "crate::types::serialize_double")]
    pub value: f64,
}

/// The most buckets a chart may ask for per series.
pub const MAX_BUCKETS: usize = 4_000;
/// The bucket count a chart gets when it asks for none.
pub const DEFAULT_BUCKETS: usize = 1_000;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    min: (usize, ChartPoint),
    max: (usize, ChartPoint),
}

/// Reduces one series, fed in order, to at most two points per bucket.
#[derive(Debug, Clone)]
pub struct Downsampler {
    low: i64,
    width: i128,
    buckets: usize,
    count: u64,
    raw: Vec<ChartPoint>,
    bins: Vec<Option<Bucket>>,
}

impl Downsampler {
    /// Buckets over the steps `[low, high]` (steps outside fall in the first or last
    /// bucket); `buckets` is at least 1.
    pub fn new(low: i64, high: i64, buckets: usize) -> Downsampler {
        let (low, high) = if low <= high { (low, high) } else { (high, low) };
        let buckets = buckets.max(1);
        Downsampler { low, width: high as i128 - low as i128 + 1, buckets, count: 0, raw: Vec::new(), bins: Vec::new() }
    }

    fn bucket_of(&self, step: i64) -> usize {
        let offset = (step as i128 - self.low as i128).max(0);
        ((offset * self.buckets as i128 / self.width) as usize).min(self.buckets - 1)
    }

    fn add_binned(&mut self, index: usize, point: ChartPoint) {
        let bucket = self.bucket_of(point.step);
        match &mut self.bins[bucket] {
            slot @ None => *slot = Some(Bucket { min: (index, point), max: (index, point) }),
            Some(bin) => {
                if point.value.total_cmp(&bin.min.1.value).is_lt() {
                    bin.min = (index, point);
                }
                if point.value.total_cmp(&bin.max.1.value).is_gt() {
                    bin.max = (index, point);
                }
            }
        }
    }

    pub fn push(&mut self, point: ChartPoint) {
        let index = self.count as usize;
        self.count += 1;
        if self.bins.is_empty() {
            if self.raw.len() < self.buckets {
                self.raw.push(point);
                return;
            }
            // One point past the bucket count: from here on only the extremes are kept.
            self.bins = vec![None; self.buckets];
            for (i, kept) in std::mem::take(&mut self.raw).into_iter().enumerate() {
                self.add_binned(i, kept);
            }
        }
        self.add_binned(index, point);
    }

    /// How many points were fed.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The kept points in the order they were fed, and whether the series was reduced.
    pub fn finish(self) -> (Vec<ChartPoint>, bool) {
        if self.bins.is_empty() {
            return (self.raw, false);
        }
        let mut kept = Vec::with_capacity(self.buckets * 2);
        for bin in self.bins.into_iter().flatten() {
            let (first, second) = if bin.min.0 <= bin.max.0 { (bin.min, bin.max) } else { (bin.max, bin.min) };
            kept.push(first.1);
            if second.0 != first.0 {
                kept.push(second.1);
            }
        }
        (kept, true)
    }
}

/// The whole series reduced at once (see [`Downsampler`]).
pub fn downsample(points: &[ChartPoint], low: i64, high: i64, buckets: usize) -> (Vec<ChartPoint>, bool) {
    let mut sampler = Downsampler::new(low, high, buckets);
    points.iter().for_each(|p| sampler.push(*p));
    sampler.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn p(step: i64, value: f64) -> ChartPoint {
        ChartPoint { step, timestamp: step.wrapping_mul(10), value }
    }

    #[test]
    fn short_series_come_back_unchanged() {
        let points = vec![p(0, 1.0), p(1, f64::NAN), p(1, f64::INFINITY), p(5, -0.0)];
        let (kept, sampled) = downsample(&points, 0, 5, 4);
        assert!(!sampled);
        assert_eq!(kept.len(), 4);
        assert!(kept[1].value.is_nan());
        assert_eq!(kept[3].value.to_bits(), (-0.0f64).to_bits());
    }

    #[test]
    fn a_spike_survives() {
        let mut points: Vec<ChartPoint> = (0..10_000).map(|i| p(i, 1.0)).collect();
        points[4321].value = 1e9;
        points[777].value = -5.0;
        let (kept, sampled) = downsample(&points, 0, 9_999, 100);
        assert!(sampled);
        assert!(kept.len() <= 200);
        assert!(kept.iter().any(|k| k.step == 4321 && k.value == 1e9));
        assert!(kept.iter().any(|k| k.step == 777 && k.value == -5.0));
    }

    #[test]
    fn extreme_steps_do_not_overflow() {
        let points = vec![p(i64::MIN, 1.0), p(0, 2.0), p(i64::MAX / 10, 3.0)];
        let (kept, sampled) = downsample(&points, i64::MIN, i64::MAX, 1);
        assert!(sampled);
        assert_eq!(kept.iter().map(|k| k.value).collect::<Vec<_>>(), vec![1.0, 3.0]);
    }

    fn series() -> impl Strategy<Value = Vec<ChartPoint>> {
        prop::collection::vec((0i64..50, prop_oneof![-100.0f64..100.0, Just(f64::NAN), Just(f64::INFINITY)]), 0..300)
            .prop_map(|mut raw| {
                raw.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
                raw.into_iter().map(|(step, value)| p(step, value)).collect()
            })
    }

    proptest! {
        #[test]
        fn keeps_each_buckets_extremes_in_order(points in series(), buckets in 1usize..40) {
            let (kept, sampled) = downsample(&points, 0, 49, buckets);
            prop_assert_eq!(sampled, points.len() > buckets);
            if !sampled {
                prop_assert_eq!(kept.len(), points.len());
                for (a, b) in kept.iter().zip(&points) {
                    prop_assert_eq!(a.value.to_bits(), b.value.to_bits());
                }
                return Ok(());
            }
            prop_assert!(kept.len() <= 2 * buckets);
            // A subsequence of the input.
            let mut rest = points.iter();
            for k in &kept {
                prop_assert!(rest.any(|q| q.step == k.step && q.value.to_bits() == k.value.to_bits()));
            }
            // Every bucket's min and max value is among the kept points of that bucket.
            let sampler = Downsampler::new(0, 49, buckets);
            for bucket in 0..buckets {
                let of = |q: &&ChartPoint| sampler.bucket_of(q.step) == bucket;
                let values: Vec<f64> = points.iter().filter(of).map(|q| q.value).collect();
                let kept_values: Vec<f64> = kept.iter().filter(of).map(|q| q.value).collect();
                prop_assert_eq!(values.is_empty(), kept_values.is_empty());
                if let (Some(min), Some(max)) = (
                    values.iter().copied().min_by(f64::total_cmp),
                    values.iter().copied().max_by(f64::total_cmp),
                ) {
                    prop_assert!(kept_values.iter().any(|v| v.to_bits() == min.to_bits()));
                    prop_assert!(kept_values.iter().any(|v| v.to_bits() == max.to_bits()));
                }
            }
        }
    }
}
