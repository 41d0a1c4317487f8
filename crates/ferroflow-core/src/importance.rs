//! Parameter importance for one metric over many runs, as W&B's panel shows it: the
//! Pearson correlation of each numeric param with the metric, and an importance estimate
//! from a small random forest (CART regression trees on bootstrap samples; importance is
//! the mean decrease in squared error a param's splits bring, normalised to sum to 1).
//!
//! Pure and deterministic: the same runs give the same numbers (a fixed seed). The work is
//! bounded by [`ForestLimits`], whatever the number of runs or params.

use std::collections::HashMap;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;

/// One run as the analysis sees it: its params and the metric's value.
#[derive(Debug, Clone)]
pub struct Observation {
    pub params: HashMap<String, String>,
    pub target: f64,
}

/// How a param's values were read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ParamKind {
    /// Every value parses as a finite number.
    Numeric,
    /// Anything else; the trees order its categories by their mean metric.
    Categorical,
}

#[derive(Debug, Clone, Serialize)]
pub struct ParamImportance {
    pub key: String,
    pub kind: ParamKind,
    /// The forest's share of the error reduction this param brought (0..=1; all sum to 1
    /// unless no param explains anything, then all are 0).
    pub importance: f64,
    /// Pearson correlation with the metric over the runs that have the param (numeric
    /// params with at least 3 such runs and some spread only).
    pub correlation: Option<f64>,
    /// How many of the analysed runs logged this param.
    pub runs_with_value: usize,
    /// How many distinct values it took.
    pub distinct_values: usize,
}

/// Caps that bound the forest's work.
#[derive(Debug, Clone, Copy)]
pub struct ForestLimits {
    pub trees: usize,
    pub max_depth: usize,
    /// Rows drawn (with replacement) for each tree.
    pub max_sample: usize,
    /// Params tried at each split (at most).
    pub max_features_per_split: usize,
    pub min_samples_leaf: usize,
}

impl Default for ForestLimits {
    fn default() -> Self {
        Self { trees: 48, max_depth: 8, max_sample: 2_000, max_features_per_split: 16, min_samples_leaf: 1 }
    }
}

/// The params of `observations` ranked by importance for their target, most important
/// first. Observations with a non-finite target are left out; params with a single value
/// over the rest get importance 0.
pub fn param_importance(observations: &[Observation], limits: ForestLimits) -> Vec<ParamImportance> {
    let rows: Vec<&Observation> = observations.iter().filter(|o| o.target.is_finite()).collect();
    let targets: Vec<f64> = rows.iter().map(|o| o.target).collect();
    let mut keys: Vec<&str> = rows.iter().flat_map(|o| o.params.keys().map(String::as_str)).collect();
    keys.sort_unstable();
    keys.dedup();

    let features: Vec<Feature> = keys.iter().map(|key| Feature::encode(key, &rows, &targets)).collect();
    let importance = forest_importance(&features, &targets, limits);
    let mut ranked: Vec<ParamImportance> = features
        .iter()
        .zip(importance)
        .map(|(feature, importance)| ParamImportance {
            key: feature.key.clone(),
            kind: feature.kind,
            importance,
            correlation: feature.correlation,
            runs_with_value: feature.present,
            distinct_values: feature.distinct,
        })
        .collect();
    ranked.sort_by(|a, b| {
        b.importance
            .total_cmp(&a.importance)
            .then_with(|| abs_or_zero(b.correlation).total_cmp(&abs_or_zero(a.correlation)))
            .then_with(|| a.key.cmp(&b.key))
    });
    ranked
}

fn abs_or_zero(value: Option<f64>) -> f64 {
    value.map_or(0.0, f64::abs)
}

/// One param as a numeric column the trees split on.
struct Feature {
    key: String,
    kind: ParamKind,
    /// Per row; a run without the param is `-inf`, below every value, so "logged it or
    /// not" is a split like any other.
    values: Vec<f64>,
    correlation: Option<f64>,
    present: usize,
    distinct: usize,
}

impl Feature {
    fn encode(key: &str, rows: &[&Observation], targets: &[f64]) -> Self {
        let raw: Vec<Option<&str>> = rows.iter().map(|o| o.params.get(key).map(String::as_str)).collect();
        let present = raw.iter().flatten().count();
        let mut distinct: Vec<&str> = raw.iter().flatten().copied().collect();
        distinct.sort_unstable();
        distinct.dedup();
        let numbers: Option<Vec<Option<f64>>> = raw
            .iter()
            .map(|value| match value {
                None => Some(None),
                Some(text) => text.trim().parse::<f64>().ok().filter(|v| v.is_finite()).map(Some),
            })
            .collect();
        let (kind, values, correlation) = match numbers {
            Some(numbers) => {
                let correlation = pearson(numbers.iter().zip(targets).filter_map(|(x, y)| x.map(|x| (x, *y))));
                let values = numbers.iter().map(|v| v.unwrap_or(f64::NEG_INFINITY)).collect();
                (ParamKind::Numeric, values, correlation)
            }
            None => (ParamKind::Categorical, category_means(&raw, targets), None),
        };
        Self { key: key.to_owned(), kind, values, correlation, present, distinct: distinct.len() }
    }
}

/// Each category replaced by the mean target of its runs: sorting categories by their
/// mean response makes the best ordered split the best split of categories into two
/// groups (for squared error), so the trees need no special case.
fn category_means(raw: &[Option<&str>], targets: &[f64]) -> Vec<f64> {
    let mut sums: HashMap<Option<&str>, (f64, usize)> = HashMap::new();
    for (value, target) in raw.iter().zip(targets) {
        let entry = sums.entry(*value).or_default();
        entry.0 += target;
        entry.1 += 1;
    }
    raw.iter()
        .map(|value| {
            let (sum, count) = sums[value];
            sum / count as f64
        })
        .collect()
}

fn pearson(pairs: impl Iterator<Item = (f64, f64)>) -> Option<f64> {
    let pairs: Vec<(f64, f64)> = pairs.collect();
    if pairs.len() < 3 {
        return None;
    }
    let n = pairs.len() as f64;
    let mean_x = pairs.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_y = pairs.iter().map(|p| p.1).sum::<f64>() / n;
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (x, y) in &pairs {
        let (dx, dy) = (x - mean_x, y - mean_y);
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    let r = sxy / (sxx.sqrt() * syy.sqrt());
    r.is_finite().then(|| r.clamp(-1.0, 1.0))
}

/// Mean decrease in squared error per feature over a forest, normalised to sum to 1.
fn forest_importance(features: &[Feature], targets: &[f64], limits: ForestLimits) -> Vec<f64> {
    let mut totals = vec![0.0; features.len()];
    let varying: Vec<usize> = (0..features.len())
        .filter(|&f| {
            let values = &features[f].values;
            values.iter().any(|v| v.total_cmp(&values[0]).is_ne())
        })
        .collect();
    if targets.len() < 2 || varying.is_empty() {
        return totals;
    }
    let mut rng = StdRng::seed_from_u64(0x5eed_f0f0);
    let sample = targets.len().min(limits.max_sample);
    // Every param at each split (as scikit-learn's regressor), up to the cap: trying a
    // random third credits a param with gains that belong to another (MDI's known bias).
    let tries = varying.len().clamp(1, limits.max_features_per_split);
    let grower = TreeGrower { features, targets, limits, tries };
    for _ in 0..limits.trees {
        let mut rows: Vec<usize> = (0..sample).map(|_| rng.random_range(0..targets.len())).collect();
        grower.grow(&mut rows, 0, &varying, &mut rng, &mut totals);
    }
    let sum: f64 = totals.iter().sum();
    if sum > 0.0 {
        totals.iter_mut().for_each(|t| *t /= sum);
    }
    totals
}

struct TreeGrower<'a> {
    features: &'a [Feature],
    targets: &'a [f64],
    limits: ForestLimits,
    tries: usize,
}

struct Split {
    feature: usize,
    threshold: f64,
    gain: f64,
}

impl TreeGrower<'_> {
    /// Splits `rows` (a node's bootstrap rows) recursively, adding each split's error
    /// reduction to its feature's total.
    fn grow(&self, rows: &mut [usize], depth: usize, varying: &[usize], rng: &mut StdRng, totals: &mut [f64]) {
        if depth >= self.limits.max_depth || rows.len() < 2 * self.limits.min_samples_leaf.max(1) {
            return;
        }
        let mut candidates = varying.to_vec();
        let mut best: Option<Split> = None;
        // A partial Fisher-Yates shuffle picks `tries` distinct features.
        for i in 0..self.tries.min(candidates.len()) {
            let j = rng.random_range(i..candidates.len());
            candidates.swap(i, j);
            if let Some(split) = self.best_split(rows, candidates[i]) {
                if best.as_ref().is_none_or(|b| split.gain > b.gain) {
                    best = Some(split);
                }
            }
        }
        let Some(split) = best else { return };
        totals[split.feature] += split.gain;
        let values = &self.features[split.feature].values;
        let mut left = 0;
        for i in 0..rows.len() {
            if values[rows[i]] <= split.threshold {
                rows.swap(i, left);
                left += 1;
            }
        }
        let (low, high) = rows.split_at_mut(left);
        self.grow(low, depth + 1, varying, rng, totals);
        self.grow(high, depth + 1, varying, rng, totals);
    }

    /// The threshold on `feature` that most reduces the squared error of `rows`.
    fn best_split(&self, rows: &[usize], feature: usize) -> Option<Split> {
        let values = &self.features[feature].values;
        let mut order: Vec<(f64, f64)> = rows.iter().map(|&r| (values[r], self.targets[r])).collect();
        order.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
        let n = order.len() as f64;
        let total: f64 = order.iter().map(|p| p.1).sum();
        let total_sq: f64 = order.iter().map(|p| p.1 * p.1).sum();
        let node_error = total_sq - total * total / n;
        let min_leaf = self.limits.min_samples_leaf.max(1);
        let (mut left_sum, mut left_sq) = (0.0, 0.0);
        let mut best: Option<Split> = None;
        for i in 0..order.len() - 1 {
            left_sum += order[i].1;
            left_sq += order[i].1 * order[i].1;
            let left_n = (i + 1) as f64;
            if i + 1 < min_leaf || order.len() - (i + 1) < min_leaf || order[i].0.total_cmp(&order[i + 1].0).is_eq() {
                continue;
            }
            let right_n = n - left_n;
            let right_sum = total - left_sum;
            let error =
                (left_sq - left_sum * left_sum / left_n) + (total_sq - left_sq - right_sum * right_sum / right_n);
            let gain = node_error - error;
            if gain > 1e-12 * node_error.abs().max(f64::MIN_POSITIVE) && best.as_ref().is_none_or(|b| gain > b.gain) {
                best = Some(Split { feature, threshold: order[i].0, gain });
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn observation(params: &[(&str, String)], target: f64) -> Observation {
        Observation { params: params.iter().map(|(k, v)| (k.to_string(), v.clone())).collect(), target }
    }

    /// A small deterministic pseudo-random sequence for test data.
    fn noise(i: usize) -> f64 {
        ((i as f64 * 12.9898).sin() * 43_758.545).fract().abs()
    }

    #[test]
    fn the_param_that_drives_the_metric_ranks_first() {
        let runs: Vec<Observation> = (0..60)
            .map(|i| {
                let lr = [0.001, 0.01, 0.1][i % 3];
                let seed = i % 7;
                let optimizer = ["adam", "sgd"][i % 2];
                let loss = 10.0 * lr + 0.01 * noise(i) + if optimizer == "adam" { 0.05 } else { 0.0 };
                observation(
                    &[("lr", lr.to_string()), ("seed", seed.to_string()), ("optimizer", optimizer.to_string())],
                    loss,
                )
            })
            .collect();
        let ranked = param_importance(&runs, ForestLimits::default());
        let keys: Vec<&str> = ranked.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(keys, ["lr", "optimizer", "seed"], "{ranked:#?}");
        assert!(ranked[0].importance > 0.8, "{ranked:#?}");
        let total: f64 = ranked.iter().map(|p| p.importance).sum();
        assert!((total - 1.0).abs() < 1e-9);
        assert_eq!(ranked[0].kind, ParamKind::Numeric);
        assert!(ranked[0].correlation.unwrap() > 0.9);
        assert_eq!(ranked[1].kind, ParamKind::Categorical);
        assert_eq!(ranked[1].correlation, None);
        assert_eq!(ranked[1].distinct_values, 2);
    }

    #[test]
    fn the_same_runs_give_the_same_numbers() {
        let runs: Vec<Observation> = (0..40)
            .map(|i| observation(&[("a", noise(i).to_string()), ("b", (i % 4).to_string())], noise(i + 99)))
            .collect();
        let first = param_importance(&runs, ForestLimits::default());
        let second = param_importance(&runs, ForestLimits::default());
        let pairs = |r: &[ParamImportance]| r.iter().map(|p| (p.key.clone(), p.importance)).collect::<Vec<_>>();
        assert_eq!(pairs(&first), pairs(&second));
    }

    #[test]
    fn constant_params_missing_values_and_bad_targets() {
        let runs = vec![
            observation(&[("const", "1".into()), ("x", "1".into())], 1.0),
            observation(&[("const", "1".into()), ("x", "2".into())], 2.0),
            observation(&[("const", "1".into())], 5.0),
            observation(&[("const", "1".into()), ("x", "3".into())], f64::NAN),
            observation(&[("const", "1".into()), ("x", "4".into())], f64::INFINITY),
        ];
        let ranked = param_importance(&runs, ForestLimits::default());
        let by_key: HashMap<&str, &ParamImportance> = ranked.iter().map(|p| (p.key.as_str(), p)).collect();
        assert_eq!(by_key["const"].importance, 0.0);
        assert_eq!(by_key["x"].importance, 1.0, "missing vs present and 1 vs 2 are splits");
        assert_eq!(by_key["x"].runs_with_value, 2, "the non-finite targets' runs are left out");
        assert_eq!(by_key["x"].correlation, None, "fewer than 3 runs");
    }

    #[test]
    fn no_runs_or_one_run_is_no_signal() {
        assert!(param_importance(&[], ForestLimits::default()).is_empty());
        let one = param_importance(&[observation(&[("a", "1".into())], 1.0)], ForestLimits::default());
        assert_eq!(one[0].importance, 0.0);
    }

    #[test]
    fn correlation_sign_follows_the_metric() {
        let runs: Vec<Observation> =
            (0..20).map(|i| observation(&[("depth", i.to_string())], 100.0 - 3.0 * i as f64)).collect();
        let ranked = param_importance(&runs, ForestLimits::default());
        assert!((ranked[0].correlation.unwrap() + 1.0).abs() < 1e-9);
    }
}
