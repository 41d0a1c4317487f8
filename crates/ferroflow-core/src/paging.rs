//! Opaque page tokens. Like MLflow's, a token is base64 of `{"offset": N}`; clients
//! must treat it as opaque, and a token that does not decode is a 400.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use crate::error::{Error, Result};

pub fn encode_offset(offset: u64) -> String {
    STANDARD.encode(format!("{{\"offset\": {offset}}}"))
}

/// Decodes a page token to the offset it stands for; an absent or empty token is offset 0.
pub fn decode_offset(token: Option<&str>) -> Result<u64> {
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return Ok(0);
    };
    let invalid = || Error::invalid_parameter(format!("Invalid page token, could not base64-decode: '{token}'"));
    let bytes = STANDARD.decode(token).map_err(|_| invalid())?;
    let value: serde_json::Value = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    value
        .get("offset")
        .and_then(|offset| offset.as_u64())
        .ok_or_else(|| Error::invalid_parameter(format!("Invalid page token, decoded value={value}")))
}

/// Slices one page out of `fetched`, which holds up to `max_results + 1` items starting at
/// `offset`: the extra item only proves that another page exists.
pub fn page_from<T>(mut fetched: Vec<T>, offset: u64, max_results: usize) -> crate::types::Page<T> {
    let next_page_token = if fetched.len() > max_results {
        fetched.truncate(max_results);
        Some(encode_offset(offset + max_results as u64))
    } else {
        None
    };
    crate::types::Page { items: fetched, next_page_token }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_garbage() {
        assert_eq!(decode_offset(Some(&encode_offset(42))).unwrap(), 42);
        assert_eq!(decode_offset(None).unwrap(), 0);
        assert_eq!(decode_offset(Some("")).unwrap(), 0);
        assert!(decode_offset(Some("not base64!")).is_err());
        assert!(decode_offset(Some(&STANDARD.encode("[1]"))).is_err());
    }

    #[test]
    fn last_page_has_no_token() {
        let page = page_from(vec![1, 2, 3], 0, 3);
        assert!(page.next_page_token.is_none());
        let page = page_from(vec![1, 2, 3, 4], 6, 3);
        assert_eq!(page.items, vec![1, 2, 3]);
        assert_eq!(decode_offset(page.next_page_token.as_deref()).unwrap(), 9);
    }
}
