//! MLflow's search language: filter strings and order_by clauses, for runs, experiments,
//! registered models, model versions and logged models.
//!
//! * [`parse_filter`] (and the per-entity shorthands) turn a filter string into a typed,
//!   validated [`Filter`]; `Ok(None)` means "no filter" (empty, blank, or only `AND`s).
//! * [`parse_order_by`] / [`parse_order_by_list`] do the same for order_by clauses.
//! * [`Filter::matches`] / [`matches()`] evaluate a filter against an in-memory [`Record`];
//!   this is the reference semantics the SQL store must reproduce (see [`eval`]).
//!
//! Compatibility contract (checked by `tests.rs` against answers recorded from a real
//! MLflow SQL store, `testdata/`): every filter MLflow's server accepts parses here to the
//! same meaning, and every filter it rejects is rejected here with an
//! `INVALID_PARAMETER_VALUE` error whose message starts like MLflow's — except for these
//! extensions: `OR`, `NOT`, parentheses, `IN`/`NOT IN` on params and tags, and `RLIKE`
//! (regex search, see [`Regex`]). `AND` binds tighter than `OR`; `NOT` binds tightest.
//!
//! Deliberate differences, all on inputs where MLflow's answer is an accident:
//!
//! * Keywords are case-insensitive everywhere; MLflow's experiment search alone rejects
//!   lower-case `like`/`ilike`/`in` (it forgets to upper-case the comparator there).
//! * MLflow accepts a missing `AND` between comparisons, and so does ferroflow — except
//!   where sqlparse glues the two into one nonsensical key (a missing `AND` before an
//!   `IN`/`IS NULL` comparison that follows a value): those are rejected here.
//! * Logged models (MLflow parses these with a separate, looser parser): `status` compares
//!   the status name (MLflow compares its integer column with the text and never
//!   matches); double quotes around a value or key are removed (MLflow keeps them);
//!   only the documented attributes are keys, plus the `last_updated_time` alias;
//!   empty or non-string `IN` lists and `LIKE (…)` are rejected.
//! * `IN (…)` lists follow Python literal syntax except `\N{…}` escapes, comments and
//!   nested parentheses; numbers are ASCII digits only (sqlparse's `\d` is Unicode).
//! * order_by keys in quotes are unquoted like `shlex` does, without its escape handling.

mod ast;
pub mod eval;
mod order_by;
mod regex;
mod syntax;
mod validate;

#[cfg(test)]
mod tests;

pub use ast::{Comparison, Entity, Expr, Filter, Key, KeyKind, Op, OrderBy, Value};
pub use eval::{matches, queries_prompts, AttrValue, DatasetRecord, Record, PROMPT_TAG_KEY, RUN_NAME_TAG_KEY};
pub use order_by::{parse_logged_model_order_by, parse_order_by, parse_order_by_list};
pub use regex::{Regex, RegexError};

use crate::error::{Error, Result};

/// Parses and validates `text` as a filter for `entity`.
///
/// Errors are `INVALID_PARAMETER_VALUE` and name the character position of the problem.
pub fn parse_filter(entity: Entity, text: &str) -> Result<Option<Filter>> {
    let raw = match syntax::parse(text) {
        Ok(Some(raw)) => raw,
        Ok(None) => return Ok(None),
        Err(e) => {
            let (pos, near) = locate(text, e.pos);
            return Err(Error::invalid_parameter(format!(
                "Invalid filter '{text}': expected {} at position {pos} {near}",
                e.expected
            )));
        }
    };
    match validate::validate(entity, raw) {
        Ok(expr) => Ok(Some(Filter { entity, expr })),
        Err(e) => {
            let (pos, near) = locate(text, e.pos);
            Err(Error::invalid_parameter(format!("{} (in filter '{text}' at position {pos} {near})", e.message)))
        }
    }
}

/// Character position of byte offset `at`, and a short "near '…'" excerpt from there.
fn locate(text: &str, at: usize) -> (usize, String) {
    let at = at.min(text.len());
    let pos = text[..at].chars().count();
    let rest = &text[at..];
    if rest.is_empty() {
        return (pos, "at the end of the filter".to_string());
    }
    let mut near: String = rest.chars().take(24).collect();
    if rest.chars().count() > 24 {
        near.push('…');
    }
    (pos, format!("near '{near}'"))
}

/// `search_runs`' `filter`.
pub fn parse_run_filter(text: &str) -> Result<Option<Filter>> {
    parse_filter(Entity::Run, text)
}

/// `search_experiments`' `filter`.
pub fn parse_experiment_filter(text: &str) -> Result<Option<Filter>> {
    parse_filter(Entity::Experiment, text)
}

/// `search_registered_models`' `filter`.
pub fn parse_registered_model_filter(text: &str) -> Result<Option<Filter>> {
    parse_filter(Entity::RegisteredModel, text)
}

/// `search_model_versions`' `filter`.
pub fn parse_model_version_filter(text: &str) -> Result<Option<Filter>> {
    parse_filter(Entity::ModelVersion, text)
}

/// `logged-models/search`' `filter`.
pub fn parse_logged_model_filter(text: &str) -> Result<Option<Filter>> {
    parse_filter(Entity::LoggedModel, text)
}
