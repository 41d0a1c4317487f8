//! Opaque page tokens. Like MLflow's, a token is base64 of `{"offset": N}`; clients
//! must treat it as opaque, and a token that does not decode is a 400.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use crate::error::{Error, Result};

pub fn encode_offset(offset: u64) -> String {
    STANDARD.encode(format!("{{\"offset\": {offset}}}"))
}

/// The largest offset a token may carry: the largest SQL `OFFSET`. Past it, a token can
/// only be forged, and would wrap around to the first page if taken as given.
pub const MAX_OFFSET: u64 = i64::MAX as u64;

/// Decodes a page token to the offset it stands for; an absent or empty token is offset 0.
/// An offset that is not an integer in `0..=MAX_OFFSET` is a 400; one past the last item
/// gives an empty last page.
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
        .filter(|offset| *offset <= MAX_OFFSET)
        .ok_or_else(|| Error::invalid_parameter(format!("Invalid page token, decoded value={value}")))
}

/// Slices one page out of `fetched`, which holds up to `max_results + 1` items starting at
/// `offset`: the extra item only proves that another page exists.
pub fn page_from<T>(mut fetched: Vec<T>, offset: u64, max_results: usize) -> crate::types::Page<T> {
    let next_page_token = if fetched.len() > max_results {
        fetched.truncate(max_results);
        Some(encode_offset(offset.saturating_add(max_results as u64).min(MAX_OFFSET)))
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
    fn forged_offsets_are_refused_not_wrapped() {
        let token = |text: &str| STANDARD.encode(text);
        assert_eq!(decode_offset(Some(&token(&format!("{{\"offset\": {MAX_OFFSET}}}")))).unwrap(), MAX_OFFSET);
        for forged in [
            "{\"offset\": 18446744073709551615}",
            "{\"offset\": 9223372036854775808}",
            "{\"offset\": -1}",
            "{\"offset\": 1.5}",
            "{\"offset\": \"3\"}",
        ] {
            let error = decode_offset(Some(&token(forged))).unwrap_err();
            assert_eq!(error.code, crate::ErrorCode::InvalidParameterValue, "{forged}");
        }
        // A next token never overflows.
        let page = page_from(vec![1, 2, 3], MAX_OFFSET - 1, 2);
        assert_eq!(decode_offset(page.next_page_token.as_deref()).unwrap(), MAX_OFFSET);
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
