//! order_by for registry searches: MLflow's keys, defaults and tie-breakers.

use ferroflow_core::{Error, Result};

fn invalid(message: impl Into<String>) -> Error {
    Error::invalid_parameter(message)
}

fn strip_quotes(text: &str) -> &str {
    for quote in ['\'', '"', '`'] {
        if text.len() >= 2 && text.starts_with(quote) && text.ends_with(quote) {
            return &text[1..text.len() - 1];
        }
    }
    text
}

// ------------------------------------------------------------ order_by

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ModelOrderKey {
    Name,
    LastUpdated,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum VersionOrderKey {
    Name,
    Version,
    CreationTimestamp,
    LastUpdatedTimestamp,
}

/// Python's repr of a list of strings.
fn python_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|item| format!("'{item}'")).collect();
    format!("[{}]", quoted.join(", "))
}

/// `_parse_order_by_string`: a key, optionally quoted, and an optional ASC/DESC.
fn split_order_by(clause: &str) -> Result<(String, bool)> {
    let text = clause.replace('`', "\"");
    let mut tokens: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut in_quotes = false;
    let mut has_token = false;
    for c in text.chars() {
        match c {
            '"' => {
                in_quotes = !in_quotes;
                has_token = true;
            }
            c if c.is_whitespace() && !in_quotes => {
                if has_token {
                    tokens.push(std::mem::take(&mut current));
                    has_token = false;
                }
            }
            c => {
                current.push(c);
                has_token = true;
            }
        }
    }
    if in_quotes {
        return Err(invalid(format!("Invalid order_by clause '{clause}'. Could not be parsed.")));
    }
    if has_token {
        tokens.push(current);
    }
    match tokens.as_slice() {
        [key] => Ok((key.clone(), true)),
        [key, direction] => match direction.to_ascii_lowercase().as_str() {
            "asc" => Ok((key.clone(), true)),
            "desc" => Ok((key.clone(), false)),
            _ => Err(invalid(format!("Invalid ordering key in order_by clause '{clause}'."))),
        },
        _ => Err(invalid(format!("Invalid order_by clause '{clause}'. Could not be parsed."))),
    }
}

/// MLflow's SQL store: `name`, or `timestamp` / `last_updated_timestamp` (both the
/// update time); `name ASC` breaks ties.
pub(crate) fn parse_registered_model_order_by(order_by: &[String]) -> Result<Vec<(ModelOrderKey, bool)>> {
    let mut clauses: Vec<(ModelOrderKey, bool)> = Vec::new();
    for clause in order_by {
        let (key, ascending) = split_order_by(clause)?;
        let field = match key.trim() {
            "name" => ModelOrderKey::Name,
            "timestamp" | "last_updated_timestamp" => ModelOrderKey::LastUpdated,
            other => {
                return Err(invalid(format!(
                    "Invalid order by key '{other}' specified. Valid keys are '{{'name', 'timestamp'}}'"
                )))
            }
        };
        if clauses.iter().any(|(seen, _)| *seen == field) {
            return Err(invalid(format!("`order_by` contains duplicate fields: {}", python_list(order_by))));
        }
        clauses.push((field, ascending));
    }
    if !clauses.iter().any(|(key, _)| *key == ModelOrderKey::Name) {
        clauses.push((ModelOrderKey::Name, true));
    }
    Ok(clauses)
}

const VERSION_ORDER_SET: &str = "{'name', 'version_number', 'creation_timestamp', 'last_updated_timestamp'}";

/// MLflow's SQL store: default `last_updated_timestamp DESC, name ASC, version_number
/// DESC`; `name ASC` and `version_number DESC` break ties.
pub(crate) fn parse_model_version_order_by(order_by: &[String]) -> Result<Vec<(VersionOrderKey, bool)>> {
    let default = ["last_updated_timestamp DESC".to_string(), "name ASC".into(), "version_number DESC".into()];
    let order_by = if order_by.is_empty() { &default[..] } else { order_by };
    let mut clauses: Vec<(VersionOrderKey, bool)> = Vec::new();
    for clause in order_by {
        let (identifier, ascending) = split_order_by(clause)?;
        let identifier = identifier.trim();
        let (entity_type, key) = match identifier.split_once('.') {
            Some((entity_type, key)) => (Some(entity_type), key),
            None => (None, identifier),
        };
        let key = strip_quotes(key);
        let is_tag = match entity_type {
            None | Some("attribute" | "attributes") => false,
            Some("tag" | "tags") => true,
            Some(other) => {
                return Err(invalid(format!(
                    "Invalid entity type '{other}'. Valid entity types are ('attribute', 'attributes', 'tag', 'tags')"
                )))
            }
        };
        let field = match (is_tag, key) {
            (false, "name") => VersionOrderKey::Name,
            (false, "version_number") => VersionOrderKey::Version,
            (false, "creation_timestamp") => VersionOrderKey::CreationTimestamp,
            (false, "last_updated_timestamp") => VersionOrderKey::LastUpdatedTimestamp,
            (false, other) => {
                return Err(invalid(format!(
                    "Invalid attribute key '{other}' specified. Valid keys are '{VERSION_ORDER_SET}'"
                )))
            }
            (true, other) => {
                return Err(invalid(format!(
                    "Invalid order by key '{other}' specified. Valid keys are {VERSION_ORDER_SET}"
                )))
            }
        };
        if clauses.iter().any(|(seen, _)| *seen == field) {
            return Err(invalid(format!("`order_by` contains duplicate fields: {}", python_list(order_by))));
        }
        clauses.push((field, ascending));
    }
    if !clauses.iter().any(|(key, _)| *key == VersionOrderKey::Name) {
        clauses.push((VersionOrderKey::Name, true));
    }
    if !clauses.iter().any(|(key, _)| *key == VersionOrderKey::Version) {
        clauses.push((VersionOrderKey::Version, false));
    }
    Ok(clauses)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_by() {
        assert_eq!(
            parse_registered_model_order_by(&["timestamp DESC".into()]).unwrap(),
            vec![(ModelOrderKey::LastUpdated, false), (ModelOrderKey::Name, true)]
        );
        assert!(parse_registered_model_order_by(&["creation_timestamp".into()]).is_err());
        assert!(parse_registered_model_order_by(&["timestamp".into(), "last_updated_timestamp".into()])
            .unwrap_err()
            .message
            .starts_with("`order_by` contains duplicate fields"));
        assert!(parse_registered_model_order_by(&["name sideways".into()]).is_err());
        assert_eq!(
            parse_model_version_order_by(&[]).unwrap(),
            vec![
                (VersionOrderKey::LastUpdatedTimestamp, false),
                (VersionOrderKey::Name, true),
                (VersionOrderKey::Version, false)
            ]
        );
        assert_eq!(
            parse_model_version_order_by(&["version_number ASC".into()]).unwrap(),
            vec![(VersionOrderKey::Version, true), (VersionOrderKey::Name, true)]
        );
        assert!(parse_model_version_order_by(&["tags.x".into()]).is_err());
    }
}
