//! Reading requests the way MLflow's server does: protobuf-JSON leniency in, one shape in
//! the handlers. POST/PATCH/DELETE bodies and GET query strings both become a JSON object;
//! camelCase keys become snake_case; scalars may arrive as numbers or strings.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::Method;
use serde::de::{DeserializeOwned, Deserializer};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::error::ApiError;

/// Requests larger than this are refused before parsing; MLflow's largest legal field
/// (a dataset profile) is 16 MiB.
pub const MAX_REQUEST_BYTES: usize = 32 * 1024 * 1024;

/// A decoded RPC request message, with the size of the body it came in.
pub struct Rpc<T> {
    pub message: T,
    pub body_len: usize,
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Rpc<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_get = request.method() == Method::GET;
        // Like MLflow, POST and PUT messages must say they are JSON.
        if request.method() == Method::POST || request.method() == Method::PUT {
            require_json_content_type(request.headers())?;
        }
        let query = request.uri().query().map(str::to_owned);
        let metric_values = metric_value_place(request.uri().path());
        let body = Bytes::from_request(request, state).await.map_err(|e| {
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError(ferroflow_core::Error::too_large(format!(
                    "The request body is larger than this server accepts ({MAX_REQUEST_BYTES} bytes)."
                )))
            } else {
                ApiError::invalid(format!("Could not read the request body: {e}"))
            }
        })?;
        // Like MLflow: a GET with a query string reads it; anything else reads the body.
        let has_query = query.as_deref().is_some_and(|q| !q.is_empty());
        let from_query = (is_get && has_query) || body.iter().all(u8::is_ascii_whitespace);
        // The common case, a JSON object whose keys are all snake_case, is deserialised
        // straight from the bytes. Anything else (camelCase keys, a double-encoded body, a
        // query string) and any body the fast path refuses go through a `serde_json::Value`
        // that is normalised first, which also words the error.
        if !from_query && is_plain_object(&body) {
            if let Ok(message) = serde_json::from_slice::<T>(&body) {
                return Ok(Rpc { message, body_len: body.len() });
            }
        }
        let raw = if from_query {
            query_to_json(query.as_deref().unwrap_or(""))
        } else {
            let parsed = match serde_json::from_slice::<Value>(&body) {
                Ok(parsed) => parsed,
                // Python's `json` writes NaN and infinities as bare literals, which JSON
                // lacks; they are read as the values they name, in metric values only.
                Err(error) => match metric_values.and_then(|place| quote_bare_non_finite(&body, place)) {
                    Some(quoted) => parse_json(&quoted)?,
                    None => return Err(malformed_json(error)),
                },
            };
            // Older clients double-encoded the message as a JSON string; MLflow decodes it again.
            match parsed {
                Value::String(inner) => parse_json(inner.as_bytes())?,
                other => other,
            }
        };
        if !raw.is_object() {
            return Err(ApiError::invalid("The request body must be a JSON object."));
        }
        let normalized = snake_case_keys(raw)?;
        let message = T::deserialize(normalized).map_err(|e| ApiError::invalid(format!("Invalid request: {e}")))?;
        Ok(Rpc { message, body_len: body.len() })
    }
}

/// MLflow's check that a POST or PUT message says it is JSON.
pub(crate) fn require_json_content_type(headers: &axum::http::HeaderMap) -> Result<(), ApiError> {
    let content_type = headers.get(axum::http::header::CONTENT_TYPE).map(|v| v.to_str().unwrap_or(""));
    match content_type.map(|v| v.split(';').next().unwrap_or("").trim().to_ascii_lowercase()) {
        None => Err(ApiError::invalid("Bad Request. Content-Type header is missing.")),
        Some(kind) if kind != "application/json" => {
            Err(ApiError::invalid("Bad Request. Content-Type must be one of ['application/json']."))
        }
        Some(_) => Ok(()),
    }
}

/// Whether `body` is a JSON object none of whose keys (at any depth) holds an ASCII
/// capital letter, so no key needs renaming. A cheap scan of the raw bytes that may say
/// "no" to valid input (then the general path runs) but never "yes" to a camelCase key.
fn is_plain_object(body: &[u8]) -> bool {
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return false;
    }
    let mut in_string = false;
    let mut escaped = false;
    let mut string_has_capital = false;
    let mut after_string = false;
    for byte in body {
        if in_string {
            if escaped {
                escaped = false;
            } else if *byte == b'\\' {
                // An escape may spell a capital (`\u0041`): leave such keys to the general path.
                escaped = true;
                string_has_capital = true;
            } else if *byte == b'"' {
                in_string = false;
                after_string = true;
            } else if byte.is_ascii_uppercase() {
                string_has_capital = true;
            }
            continue;
        }
        match byte {
            b'"' => {
                in_string = true;
                string_has_capital = false;
                after_string = false;
            }
            // A string followed by ':' is a key.
            b':' if after_string && string_has_capital => return false,
            b if b.is_ascii_whitespace() => {}
            _ => after_string = false,
        }
    }
    true
}

fn parse_json(bytes: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice::<Value>(bytes).map_err(malformed_json)
}

fn malformed_json(error: serde_json::Error) -> ApiError {
    ApiError::invalid(format!("Malformed JSON in the request body: {error}"))
}

/// Where an RPC's body carries metric values, the only fields in which Python's bare
/// `NaN`, `Infinity` and `-Infinity` literals are accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MetricValuePlace {
    /// `{"value": …}` at the top level (`runs/log-metric`).
    TopLevel,
    /// `{"metrics": [{"value": …}, …]}` (`runs/log-batch`).
    MetricsList,
}

fn metric_value_place(path: &str) -> Option<MetricValuePlace> {
    if path.ends_with("/runs/log-metric") {
        Some(MetricValuePlace::TopLevel)
    } else if path.ends_with("/runs/log-batch") {
        Some(MetricValuePlace::MetricsList)
    } else {
        None
    }
}

/// Rewrites the bare literals `NaN`, `Infinity` and `-Infinity` standing as metric values
/// into the quoted forms protobuf JSON uses. `None` when the body holds none, or holds
/// one anywhere else (then the body stays malformed, as JSON says it is).
fn quote_bare_non_finite(body: &[u8], place: MetricValuePlace) -> Option<Vec<u8>> {
    /// An open container, and for an object the key whose value is being read.
    enum Frame {
        Object { key: Vec<u8>, reading_key: bool },
        Array,
    }
    let key_is = |frame: Option<&Frame>, name: &[u8]| matches!(frame, Some(Frame::Object { key, .. }) if key == name);
    let mut out = Vec::with_capacity(body.len() + 16);
    let mut stack: Vec<Frame> = Vec::new();
    let mut quoted_any = false;
    let mut i = 0;
    while i < body.len() {
        let byte = body[i];
        match byte {
            b'"' => {
                // Copy the whole string; remember it when it is an object's key.
                let start = i;
                i += 1;
                while i < body.len() && body[i] != b'"' {
                    i += if body[i] == b'\\' { 2 } else { 1 };
                }
                let end = i.min(body.len());
                if let Some(Frame::Object { key, reading_key: reading @ true }) = stack.last_mut() {
                    *key = body[start + 1..end].to_vec();
                    *reading = false;
                }
                out.extend_from_slice(&body[start..(end + 1).min(body.len())]);
                i = end + 1;
                continue;
            }
            b'{' => stack.push(Frame::Object { key: Vec::new(), reading_key: true }),
            b'[' => stack.push(Frame::Array),
            b'}' | b']' => {
                stack.pop();
            }
            b',' => {
                if let Some(Frame::Object { reading_key, .. }) = stack.last_mut() {
                    *reading_key = true;
                }
            }
            b'N' | b'I' | b'-' => {
                let literal = [&b"NaN"[..], b"Infinity", b"-Infinity"].into_iter().find(|l| body[i..].starts_with(l));
                if let Some(literal) = literal {
                    let is_metric_value = match place {
                        MetricValuePlace::TopLevel => stack.len() == 1 && key_is(stack.last(), b"value"),
                        MetricValuePlace::MetricsList => {
                            stack.len() == 3
                                && key_is(stack.first(), b"metrics")
                                && matches!(stack[1], Frame::Array)
                                && key_is(stack.last(), b"value")
                        }
                    };
                    if !is_metric_value {
                        return None;
                    }
                    out.push(b'"');
                    out.extend_from_slice(literal);
                    out.push(b'"');
                    quoted_any = true;
                    i += literal.len();
                    continue;
                }
            }
            _ => {}
        }
        out.push(byte);
        i += 1;
    }
    quoted_any.then_some(out)
}

/// Python `requests` encodes repeated fields as repeated keys; collect those into arrays.
fn query_to_json(query: &str) -> Value {
    let mut object = Map::new();
    for (key, value) in form_urlencoded_pairs(query) {
        match object.get_mut(&key) {
            Some(Value::Array(items)) => items.push(Value::String(value)),
            Some(existing) => {
                let first = existing.take();
                *existing = Value::Array(vec![first, Value::String(value)]);
            }
            None => {
                object.insert(key, Value::String(value));
            }
        }
    }
    Value::Object(object)
}

fn form_urlencoded_pairs(query: &str) -> impl Iterator<Item = (String, String)> + '_ {
    query.split('&').filter(|pair| !pair.is_empty()).map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (percent_decode(key), percent_decode(value))
    })
}

pub(crate) fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex_value(bytes[i + 1]), hex_value(bytes[i + 2])) {
                (Some(high), Some(low)) => {
                    out.push(high * 16 + low);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_value(byte: u8) -> Option<u8> {
    (byte as char).to_digit(16).map(|d| d as u8)
}

fn to_snake_case(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 4);
    for c in key.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// Rewrites camelCase keys to snake_case, refusing an object that spells a field both ways.
fn snake_case_keys(value: Value) -> Result<Value, ApiError> {
    Ok(match value {
        Value::Object(map) => {
            let mut out = Map::with_capacity(map.len());
            for (key, inner) in map {
                let snake = to_snake_case(&key);
                if out.contains_key(&snake) {
                    return Err(ApiError::invalid(format!("Field '{snake}' was given more than once.")));
                }
                out.insert(snake, snake_case_keys(inner)?);
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.into_iter().map(snake_case_keys).collect::<Result<_, _>>()?),
        other => other,
    })
}

/// A one-field answer such as `{"run": …}`, serialized straight from the entity (no
/// intermediate `serde_json::Value`: runs with many metrics are the hot path).
pub struct Keyed<T> {
    pub key: &'static str,
    pub value: T,
}

impl<T: serde::Serialize> serde::Serialize for Keyed<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(1))?;
        map.serialize_entry(self.key, &self.value)?;
        map.end()
    }
}

/// A page of results: `{"<key>": [...], "next_page_token": "…"}`, with the list omitted
/// when empty and the token omitted on the last page (the client reads a present token
/// as "more to come").
pub struct Paged<T> {
    pub key: &'static str,
    pub page: ferroflow_core::types::Page<T>,
}

impl<T: serde::Serialize> serde::Serialize for Paged<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(None)?;
        if !self.page.items.is_empty() {
            map.serialize_entry(self.key, &self.page.items)?;
        }
        if let Some(token) = &self.page.next_page_token {
            map.serialize_entry("next_page_token", token)?;
        }
        map.end()
    }
}

/// Field deserializers that accept what protobuf JSON allows: numbers as strings,
/// `"NaN"`/`"Infinity"` doubles, `True`/`False` booleans, one value for a repeated field.
pub mod lenient {
    use super::*;
    use serde::de::Error as _;

    fn describe(value: &Value) -> String {
        match value {
            Value::String(s) => format!("'{s}'"),
            other => other.to_string(),
        }
    }

    pub fn parse_i64(value: &Value) -> Option<i64> {
        match value {
            Value::Number(n) => {
                n.as_i64().or_else(|| n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 9.2e18).map(|f| f as i64))
            }
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    pub fn parse_f64(value: &Value) -> Option<f64> {
        match value {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => match s.trim() {
                "NaN" | "nan" => Some(f64::NAN),
                "Infinity" | "inf" | "+Infinity" => Some(f64::INFINITY),
                "-Infinity" | "-inf" => Some(f64::NEG_INFINITY),
                other => other.parse().ok(),
            },
            _ => None,
        }
    }

    pub fn opt_i64<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
        match Option::<Value>::deserialize(deserializer)? {
            None | Some(Value::Null) => Ok(None),
            Some(value) => parse_i64(&value)
                .map(Some)
                .ok_or_else(|| D::Error::custom(format!("expected an integer, got {}", describe(&value)))),
        }
    }

    pub fn opt_f64<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<f64>, D::Error> {
        match Option::<Value>::deserialize(deserializer)? {
            None | Some(Value::Null) => Ok(None),
            Some(value) => parse_f64(&value)
                .map(Some)
                .ok_or_else(|| D::Error::custom(format!("expected a double, got {}", describe(&value)))),
        }
    }

    pub fn opt_bool<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<bool>, D::Error> {
        match Option::<Value>::deserialize(deserializer)? {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(b)),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(other) => Err(D::Error::custom(format!("expected a boolean, got {}", describe(&other)))),
        }
    }

    /// A string field; numbers are accepted and printed, as ids often arrive as numbers.
    pub fn opt_string<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
        match Option::<Value>::deserialize(deserializer)? {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(other) => Err(D::Error::custom(format!("expected a string, got {}", describe(&other)))),
        }
    }

    /// A repeated field: an array, or a single value as GET query strings send it.
    pub fn vec<'de, D: Deserializer<'de>, T: DeserializeOwned>(deserializer: D) -> Result<Vec<T>, D::Error> {
        Ok(opt_vec(deserializer)?.unwrap_or_default())
    }

    /// A repeated field whose absence differs from an empty list.
    ///
    /// The items are deserialised straight from the input, not through a
    /// `serde_json::Value` per item: a log-batch carries up to 1000 metrics.
    pub fn opt_vec<'de, D: Deserializer<'de>, T: DeserializeOwned>(
        deserializer: D,
    ) -> Result<Option<Vec<T>>, D::Error> {
        deserializer.deserialize_any(Repeated(std::marker::PhantomData))
    }

    struct Repeated<T>(std::marker::PhantomData<T>);

    impl<T: DeserializeOwned> Repeated<T> {
        fn one<E: serde::de::Error>(value: Value) -> Result<Option<Vec<T>>, E> {
            T::deserialize(value).map(|item| Some(vec![item])).map_err(E::custom)
        }
    }

    impl<'de, T: DeserializeOwned> serde::de::Visitor<'de> for Repeated<T> {
        type Value = Option<Vec<T>>;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a list, or a single value")
        }

        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
            while let Some(item) = seq.next_element::<T>()? {
                items.push(item);
            }
            Ok(Some(items))
        }

        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        // A single value stands for a one-item list.
        fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            T::deserialize(serde::de::value::MapAccessDeserializer::new(map)).map(|item| Some(vec![item]))
        }

        fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Self::Value, E> {
            Self::one(Value::String(text.to_string()))
        }

        fn visit_bool<E: serde::de::Error>(self, b: bool) -> Result<Self::Value, E> {
            Self::one(Value::Bool(b))
        }

        fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<Self::Value, E> {
            Self::one(Value::from(n))
        }

        fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<Self::Value, E> {
            Self::one(Value::from(n))
        }

        fn visit_f64<E: serde::de::Error>(self, n: f64) -> Result<Self::Value, E> {
            Self::one(Value::from(n))
        }
    }

    /// Repeated strings; numbers are accepted and printed.
    pub fn vec_string<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
        let items: Vec<Value> = vec(deserializer)?;
        items
            .into_iter()
            .map(|item| match item {
                Value::String(s) => Ok(s),
                Value::Number(n) => Ok(n.to_string()),
                other => Err(D::Error::custom(format!("expected a string, got {}", describe(&other)))),
            })
            .collect()
    }

    /// An enum given by proto name or number.
    pub fn opt_enum<'de, D, E>(
        deserializer: D,
        parse: impl Fn(&str) -> Option<E>,
        type_name: &str,
    ) -> Result<Option<E>, D::Error>
    where
        D: Deserializer<'de>,
    {
        match Option::<Value>::deserialize(deserializer)? {
            None | Some(Value::Null) => Ok(None),
            Some(value) => {
                let text = match &value {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    _ => String::new(),
                };
                parse(&text)
                    .map(Some)
                    .ok_or_else(|| D::Error::custom(format!("invalid {type_name} value {}", describe(&value))))
            }
        }
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn only_objects_with_snake_case_keys_take_the_fast_path() {
        assert!(is_plain_object(br#" {"run_id": "a", "metrics": [{"key": "Loss", "value": 1}]}"#));
        assert!(is_plain_object(br#"{"tags": [{"key": "k", "value": "Has \"Quote\": Colon"}]}"#));
        assert!(!is_plain_object(br#"{"runId": "a"}"#));
        assert!(!is_plain_object(br#"{"metrics": [{"key": "m", "timeStamp" : 1}]}"#));
        assert!(!is_plain_object(br#"{"run\u0049d": "a"}"#));
        assert!(!is_plain_object(br#""{\"run_id\": \"a\"}""#));
        assert!(!is_plain_object(b"[1]"));
    }

    use super::*;

    #[test]
    fn bare_non_finite_literals_are_quoted_in_metric_values_only() {
        let quote =
            |body: &str, place| quote_bare_non_finite(body.as_bytes(), place).map(|b| String::from_utf8(b).unwrap());
        use MetricValuePlace::*;
        assert_eq!(
            quote(r#"{"run_id": "r", "key": "NaN", "value": NaN, "timestamp": 1}"#, TopLevel).as_deref(),
            Some(r#"{"run_id": "r", "key": "NaN", "value": "NaN", "timestamp": 1}"#)
        );
        assert_eq!(
            quote(r#"{"metrics": [{"key": "a", "value": Infinity}, {"key": "b\"", "value": -Infinity}]}"#, MetricsList)
                .as_deref(),
            Some(r#"{"metrics": [{"key": "a", "value": "Infinity"}, {"key": "b\"", "value": "-Infinity"}]}"#)
        );
        // Anywhere else the body stays malformed.
        assert_eq!(quote(r#"{"value": 1, "timestamp": NaN}"#, TopLevel), None);
        assert_eq!(quote(r#"{"params": [{"key": "a", "value": NaN}]}"#, MetricsList), None);
        assert_eq!(quote(r#"{"metrics": [{"key": "a", "value": 1}], "value": NaN}"#, MetricsList), None);
        assert_eq!(quote(r#"{"value": 1.5}"#, TopLevel), None);
    }

    #[test]
    fn query_strings_become_objects_with_arrays() {
        let value = query_to_json("run_id=a&run_id=b&metric_key=loss%2Fval&flag=True&x=a+b");
        assert_eq!(value["run_id"], serde_json::json!(["a", "b"]));
        assert_eq!(value["metric_key"], "loss/val");
        assert_eq!(value["x"], "a b");
    }

    #[test]
    fn percent_decoding_tolerates_garbage() {
        assert_eq!(percent_decode("%"), "%");
        assert_eq!(percent_decode("%zz"), "%zz");
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(percent_decode("%41%42"), "AB");
    }

    #[test]
    fn camel_case_is_normalized_and_double_spelling_refused() {
        let value = snake_case_keys(serde_json::json!({"experimentId": "1", "tags": [{"key": "a"}]})).unwrap();
        assert_eq!(value["experiment_id"], "1");
        assert!(snake_case_keys(serde_json::json!({"experimentId": "1", "experiment_id": "2"})).is_err());
    }
}
