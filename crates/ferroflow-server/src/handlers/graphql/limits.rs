//! MLflow's guard against expensive queries (its fix for CVE-2025-0453, a denial of
//! service by one query of many aliased fields), checked on the parsed document before
//! validation or execution: the same limits, counted the same way, with the same
//! messages.
//!
//! * depth: at most 10 levels of selections;
//! * size: at most 1000 selected fields in all, fragments counted where they are spread;
//! * root fields (the "batched form", several queries in one document): at most
//!   `max_root_fields` (10) over all of the document's operations;
//! * aliases: at most `max_aliases` (10) in any one selection set, fragments spread into
//!   it included.

use std::collections::{HashSet, VecDeque};

use async_graphql::parser::types::{ExecutableDocument, Field, FragmentDefinition, Selection, SelectionSet};
use async_graphql::{Name, Positioned};

/// How deep a selection may nest.
pub const MAX_DEPTH: usize = 10;
/// How many fields one document may select.
pub const MAX_SELECTIONS: usize = 1000;

/// The limits MLflow lets an operator raise (through the same environment variables).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphqlLimits {
    /// `MLFLOW_SERVER_GRAPHQL_MAX_ROOT_FIELDS`: root fields in one document.
    pub max_root_fields: usize,
    /// `MLFLOW_SERVER_GRAPHQL_MAX_ALIASES`: aliases in one selection set.
    pub max_aliases: usize,
}

impl Default for GraphqlLimits {
    fn default() -> Self {
        Self { max_root_fields: 10, max_aliases: 10 }
    }
}

type Fragments = std::collections::HashMap<Name, Positioned<FragmentDefinition>>;

/// The fields selected at one level (inline fragments and fragment spreads merged in,
/// each fragment once) and how many of them are aliased.
fn fields_of<'a>(selection_set: &'a SelectionSet, fragments: &'a Fragments) -> (Vec<&'a Field>, usize) {
    let mut fields = Vec::new();
    let mut aliases = 0;
    let mut pending: VecDeque<&Positioned<Selection>> = selection_set.items.iter().collect();
    let mut spread = HashSet::new();
    while let Some(selection) = pending.pop_front() {
        match &selection.node {
            Selection::Field(field) => {
                aliases += usize::from(field.node.alias.is_some());
                fields.push(&field.node);
            }
            Selection::InlineFragment(inline) => pending.extend(&inline.node.selection_set.node.items),
            Selection::FragmentSpread(fragment) => {
                let name = &fragment.node.fragment_name.node;
                if spread.insert(name) {
                    if let Some(definition) = fragments.get(name) {
                        pending.extend(&definition.node.selection_set.node.items);
                    }
                }
            }
        }
    }
    (fields, aliases)
}

/// `Err(message)` when the document is over a limit.
pub fn check(document: &ExecutableDocument, limits: &GraphqlLimits) -> Result<(), String> {
    let mut root_fields = 0;
    let mut max_aliases = 0;
    let mut selections = 0;
    for (_, operation) in document.operations.iter() {
        let mut stack = vec![(&operation.node.selection_set.node, 1)];
        while let Some((selection_set, depth)) = stack.pop() {
            if depth > MAX_DEPTH {
                return Err(format!("Query exceeds maximum depth of {MAX_DEPTH}"));
            }
            let (fields, aliases) = fields_of(selection_set, &document.fragments);
            for field in fields {
                if depth == 1 {
                    root_fields += 1;
                }
                if !field.selection_set.node.items.is_empty() {
                    stack.push((&field.selection_set.node, depth + 1));
                }
                selections += 1;
                if selections > MAX_SELECTIONS {
                    return Err(format!("Query exceeds maximum total selections of {MAX_SELECTIONS}"));
                }
            }
            max_aliases = max_aliases.max(aliases);
        }
    }
    let over = |what: &str, limit: usize, count: usize, variable: &str| {
        Err(format!(
            "GraphQL queries should have at most {limit} {what}, got {count} {what}. To increase the limit, \
             set the {variable} environment variable."
        ))
    };
    if root_fields > limits.max_root_fields {
        return over("root fields", limits.max_root_fields, root_fields, "MLFLOW_SERVER_GRAPHQL_MAX_ROOT_FIELDS");
    }
    if max_aliases > limits.max_aliases {
        return over("aliases", limits.max_aliases, max_aliases, "MLFLOW_SERVER_GRAPHQL_MAX_ALIASES");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(query: &str) -> Result<(), String> {
        check(&async_graphql::parser::parse_query(query).expect("parses"), &GraphqlLimits::default())
    }

    #[test]
    fn counts_as_mlflow_does() {
        assert_eq!(scan("{ a { b { c } } }"), Ok(()));
        let deep = format!("{}{}", "{ a ".repeat(10), "}".repeat(10));
        assert_eq!(scan(&deep), Ok(()));
        let too_deep = format!("{} x {}", "{ a ".repeat(11), "}".repeat(11));
        assert_eq!(scan(&too_deep), Err("Query exceeds maximum depth of 10".into()));
        let wide = format!("{{ a {{ {} }} }}", "b ".repeat(1000));
        assert_eq!(scan(&wide), Err("Query exceeds maximum total selections of 1000".into()));
        let roots = (0..11).map(|i| format!("f{i}: test")).collect::<Vec<_>>().join(" ");
        assert!(scan(&format!("{{ {roots} }}")).unwrap_err().contains("at most 10 root fields, got 11 root fields"));
        // Aliases spread over sibling fragments count together.
        let query = "{ t { ...A ...B } } fragment A on T { a1: x a2: x a3: x a4: x a5: x a6: x } \
                     fragment B on T { b1: x b2: x b3: x b4: x b5: x }";
        assert!(scan(query).unwrap_err().contains("at most 10 aliases, got 11 aliases"));
        // A fragment that spreads itself stops at the depth limit.
        let cycle = "{ t { ...A } } fragment A on T { a { ...A } }";
        assert_eq!(scan(cycle), Err("Query exceeds maximum depth of 10".into()));
    }
}
