//! Registry searches in memory: MLflow's registry filter language (evaluated by
//! [`ferroflow_core::search::eval`]), its order_by keys and tie-breakers, and paging.
//! A backend parses the request first, reads the candidates (narrowed by the equality
//! prefilters here, in its own SQL) and hands them back for filtering, sorting and paging;
//! registries hold thousands of models, not millions.

use ferroflow_core::auth::{visible, Visibility};
use std::collections::{HashMap, HashSet};

use ferroflow_core::paging::{decode_offset, page_from};
use ferroflow_core::registry::{ModelVersion, PROMPT_TAG_KEY};
use ferroflow_core::search::{self, eval, Comparison, Entity, Expr, Filter, KeyKind, Op, Record, Value};
use ferroflow_core::types::{KeyValue, Page};
use ferroflow_core::Result;

use super::order::{self, ModelOrderKey, VersionOrderKey};
use super::StoredModel;
use crate::registry::RegistrySearch;

/// The value of a top-level `<attribute> = '…'` comparison, usable as an SQL prefilter
/// (the evaluator still checks every candidate).
fn equality_on<'f>(filter: Option<&'f Filter>, attribute: &str) -> Option<&'f str> {
    let is_equality = |expr: &'f Expr| match expr {
        Expr::Compare(Comparison { key, op: Op::Eq, value: Value::String(value) })
            if key.kind == KeyKind::Attribute && key.name == attribute =>
        {
            Some(value.as_str())
        }
        _ => None,
    };
    match &filter?.expr {
        Expr::And(items) => items.iter().find_map(is_equality),
        single => is_equality(single),
    }
}

/// Sorts by `order`'s clauses in turn, each ascending or descending.
fn sort_by_clauses<T, K>(items: &mut [T], order: &[(K, bool)], compare: impl Fn(&K, &T, &T) -> std::cmp::Ordering) {
    items.sort_by(|a, b| {
        for (key, ascending) in order {
            let ordering = compare(key, a, b);
            let ordering = if *ascending { ordering } else { ordering.reverse() };
            if ordering.is_ne() {
                return ordering;
            }
        }
        std::cmp::Ordering::Equal
    });
}

/// Keeps the items `keep` accepts, calling `check` before each one: a filter may run an
/// RLIKE pattern on every candidate, and `check` stops a search past its deadline.
fn filter_checked<T>(
    items: Vec<T>,
    mut check: impl FnMut() -> Result<()>,
    mut keep: impl FnMut(&T) -> bool,
) -> Result<Vec<T>> {
    let mut kept = Vec::new();
    for item in items {
        check()?;
        if keep(&item) {
            kept.push(item);
        }
    }
    Ok(kept)
}

/// A parsed `registered-models/search` request.
pub struct ModelSearch {
    filter: Option<Filter>,
    order: Vec<(ModelOrderKey, bool)>,
    offset: u64,
    max_results: usize,
    visible: Option<Visibility>,
}

impl ModelSearch {
    /// Checks the filter, order_by and page token, in MLflow's order.
    pub fn parse(request: &RegistrySearch) -> Result<Self> {
        let filter = search::parse_registered_model_filter(request.filter.as_deref().unwrap_or(""))?;
        let order = order::parse_registered_model_order_by(&request.order_by)?;
        let offset = decode_offset(request.page_token.as_deref())?;
        Ok(ModelSearch { filter, order, offset, max_results: request.max_results, visible: request.visible.clone() })
    }

    /// The one name every match has, when the filter says `name = '…'`.
    pub fn name_equals(&self) -> Option<&str> {
        equality_on(self.filter.as_ref(), "name")
    }

    /// The page of `models` (with their tags, by model key) that match, in order.
    pub fn page(
        &self,
        models: Vec<StoredModel>,
        tags_by_model: &HashMap<i64, Vec<KeyValue>>,
        check: impl FnMut() -> Result<()>,
    ) -> Result<Page<StoredModel>> {
        let mut matching = filter_checked(models, check, |model| {
            if !visible(self.visible.as_ref(), &model.name) {
                return false;
            }
            let mut record = Record::default().with_attr("name", model.name.as_str());
            for tag in tags_by_model.get(&model.pk).into_iter().flatten() {
                record = record.with_tag(&tag.key, &tag.value);
            }
            eval::matches(Entity::RegisteredModel, self.filter.as_ref(), &record)
        })?;
        sort_by_clauses(&mut matching, &self.order, |key, a, b| match key {
            ModelOrderKey::Name => a.name.cmp(&b.name),
            ModelOrderKey::LastUpdated => a.last_updated_time.cmp(&b.last_updated_time),
        });
        let window: Vec<StoredModel> =
            matching.into_iter().skip(self.offset as usize).take(self.max_results + 1).collect();
        Ok(page_from(window, self.offset, self.max_results))
    }
}

/// A parsed `model-versions/search` request.
pub struct VersionSearch {
    filter: Option<Filter>,
    order: Vec<(VersionOrderKey, bool)>,
    offset: u64,
    max_results: usize,
    visible: Option<Visibility>,
}

impl VersionSearch {
    /// Checks the filter, order_by and page token, in MLflow's order.
    pub fn parse(request: &RegistrySearch) -> Result<Self> {
        let filter = search::parse_model_version_filter(request.filter.as_deref().unwrap_or(""))?;
        let order = order::parse_model_version_order_by(&request.order_by)?;
        let offset = decode_offset(request.page_token.as_deref())?;
        Ok(VersionSearch { filter, order, offset, max_results: request.max_results, visible: request.visible.clone() })
    }

    /// The one model name every match has, when the filter says `name = '…'`.
    pub fn name_equals(&self) -> Option<&str> {
        equality_on(self.filter.as_ref(), "name")
    }

    /// The one run every match came from, when the filter says `run_id = '…'`.
    pub fn run_id_equals(&self) -> Option<&str> {
        equality_on(self.filter.as_ref(), "run_id")
    }

    /// The page of live `versions` (each with its model's key) that match, in order.
    /// `tags` holds every version tag of the candidates' models, deleted versions'
    /// included, by (model key, version): a model with any version tagged as a prompt is
    /// a prompt, and its versions are hidden like the prompt itself.
    pub fn page(
        &self,
        versions: Vec<(i64, ModelVersion)>,
        mut tags: HashMap<(i64, i64), Vec<KeyValue>>,
        check: impl FnMut() -> Result<()>,
    ) -> Result<Page<ModelVersion>> {
        let prompts: HashSet<i64> = tags
            .iter()
            .filter(|(_, tags)| tags.iter().any(|t| t.key == PROMPT_TAG_KEY && t.value == "true"))
            .map(|((model_pk, _), _)| *model_pk)
            .collect();
        let versions: Vec<(i64, ModelVersion)> = versions
            .into_iter()
            .map(|(pk, mut version)| {
                version.tags = tags.remove(&(pk, version.version)).unwrap_or_default();
                (pk, version)
            })
            .collect();
        let matching = filter_checked(versions, check, |(pk, version)| {
            if !visible(self.visible.as_ref(), &version.name) {
                return false;
            }
            let mut record =
                Record::default().with_attr("name", version.name.as_str()).with_attr("version_number", version.version);
            if let Some(run_id) = &version.run_id {
                record = record.with_attr("run_id", run_id.as_str());
            }
            if let Some(source) = &version.source {
                record = record.with_attr("source_path", source.as_str());
            }
            for tag in &version.tags {
                record = record.with_tag(&tag.key, &tag.value);
            }
            if prompts.contains(pk) && !record.tags.contains_key(PROMPT_TAG_KEY) {
                record = record.with_tag(PROMPT_TAG_KEY, "true");
            }
            eval::matches(Entity::ModelVersion, self.filter.as_ref(), &record)
        })?;
        let mut matching: Vec<ModelVersion> = matching.into_iter().map(|(_, version)| version).collect();
        sort_by_clauses(&mut matching, &self.order, |key, a, b| match key {
            VersionOrderKey::Name => a.name.cmp(&b.name),
            VersionOrderKey::Version => a.version.cmp(&b.version),
            VersionOrderKey::CreationTimestamp => a.creation_timestamp.cmp(&b.creation_timestamp),
            VersionOrderKey::LastUpdatedTimestamp => a.last_updated_timestamp.cmp(&b.last_updated_timestamp),
        });
        let window: Vec<ModelVersion> =
            matching.into_iter().skip(self.offset as usize).take(self.max_results + 1).collect();
        Ok(page_from(window, self.offset, self.max_results))
    }
}
