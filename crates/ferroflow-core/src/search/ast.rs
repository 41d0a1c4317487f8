//! The typed result of parsing: what a validated filter or order_by clause means.
//!
//! Everything here is already validated and normalized for one [`Entity`]: prefixes are
//! resolved to a [`KeyKind`], attribute aliases to their canonical name (`created` →
//! `start_time`), values to the type the key compares with. Storage code can translate
//! it without re-checking anything.

use std::fmt;

use super::regex::Regex;

/// The five searchable entity types; each has its own keys, comparators and quirks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Entity {
    Run,
    Experiment,
    RegisteredModel,
    ModelVersion,
    LoggedModel,
}

/// A parsed, validated filter: the expression plus the entity it was validated for.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    pub entity: Entity,
    pub expr: Expr,
}

/// A boolean expression over comparisons.
///
/// MLflow itself only has a flat `AND` list; `Or`, `Not` and nesting are ferroflow
/// extensions. A single-element `And`/`Or` is never produced: it collapses to the element.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    Compare(Comparison),
}

/// `key op value`, e.g. `metrics.rmse < 0.5`.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub key: Key,
    pub op: Op,
    pub value: Value,
}

/// A searchable key: its kind and its name (the canonical attribute name for attributes,
/// the metric/param/tag key verbatim otherwise, `name|digest|context` for datasets).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    pub kind: KeyKind,
    pub name: String,
}

impl Key {
    pub fn new(kind: KeyKind, name: impl Into<String>) -> Self {
        Self { kind, name: name.into() }
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let prefix = match self.kind {
            KeyKind::Metric => "metrics",
            KeyKind::Param => "params",
            KeyKind::Tag => "tags",
            KeyKind::Attribute => "attributes",
            KeyKind::Dataset => "datasets",
        };
        write!(f, "{prefix}.`{}`", self.name)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyKind {
    Metric,
    Param,
    Tag,
    Attribute,
    Dataset,
}

/// Comparison operators. `RLike` (regex search) is a ferroflow extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Like,
    ILike,
    In,
    NotIn,
    IsNull,
    IsNotNull,
    RLike,
}

impl Op {
    /// The operator as MLflow spells it in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Like => "LIKE",
            Op::ILike => "ILIKE",
            Op::In => "IN",
            Op::NotIn => "NOT IN",
            Op::IsNull => "IS NULL",
            Op::IsNotNull => "IS NOT NULL",
            Op::RLike => "RLIKE",
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The right-hand side of a comparison.
///
/// `Number` for metrics and numeric attributes, `String` for string comparisons and
/// LIKE/ILIKE patterns, `Regex` for RLIKE (compiled once, when the filter is validated),
/// `List` for IN/NOT IN, `None` for `IS [NOT] NULL`.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Number(f64),
    String(String),
    Regex(Regex),
    List(Vec<String>),
    None,
}

/// One parsed order_by clause.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OrderBy {
    pub key: Key,
    pub ascending: bool,
}
