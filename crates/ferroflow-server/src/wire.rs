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
        let normalized = normalized_message(from_query, query.as_deref().unwrap_or(""), metric_values, &body)?;
        let message = decode::<T>(normalized, from_query)?;
        Ok(Rpc { message, body_len: body.len() })
    }
}

/// A request's message as one snake_case JSON object: from the query string or the body
/// (with Python's bare NaN in metric values and double-encoded bodies read as MLflow does).
fn normalized_message(
    from_query: bool,
    query: &str,
    metric_values: Option<MetricValuePlace>,
    body: &[u8],
) -> Result<Value, ApiError> {
    let raw = if from_query {
        query_to_json(query)
    } else {
        let parsed = match serde_json::from_slice::<Value>(body) {
            Ok(parsed) => parsed,
            // Python's `json` writes NaN and infinities as bare literals, which JSON
            // lacks; they are read as the values they name, in metric values only.
            Err(error) => match metric_values.and_then(|place| quote_bare_non_finite(body, place)) {
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
    snake_case_keys(raw)
}

/// The message of a request as [`Rpc`] would read it, untyped: what the auth guard reads
/// the fields that locate a resource from.
pub(crate) fn request_fields(is_get: bool, query: &str, path: &str, body: &[u8]) -> Result<Value, ApiError> {
    let from_query = (is_get && !query.is_empty()) || body.iter().all(u8::is_ascii_whitespace);
    normalized_message(from_query, query, metric_value_place(path), body)
}

thread_local! {
    /// Whether the message being decoded came from a query string, whose values are all
    /// strings and whose repeated fields may hold one value: the field readers accept
    /// booleans spelled as text and single values for lists there only, as MLflow does.
    static FROM_QUERY: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn from_query() -> bool {
    FROM_QUERY.with(std::cell::Cell::get)
}

/// Marks a reader's error whose text is MLflow's own and is shown as it is.
const VERBATIM: &str = "\u{1}";

/// Decodes a normalised message, wording a refusal as MLflow does: the field (by its path,
/// `metrics[0].value`) and its value, never a Rust type name.
fn decode<T: DeserializeOwned>(normalized: Value, query: bool) -> Result<T, ApiError> {
    FROM_QUERY.with(|flag| flag.set(query));
    let result = serde_path_to_error::deserialize::<_, T>(&normalized);
    FROM_QUERY.with(|flag| flag.set(false));
    result.map_err(|error| {
        let message = error.inner().to_string();
        if let Some(verbatim) = message.strip_prefix(VERBATIM) {
            return ApiError::invalid(verbatim.to_string());
        }
        let (name, value) = offending_field(&normalized, error.path());
        match value {
            Some(value) => ApiError::invalid(invalid_value_message(&name, value)),
            None => blame_one_field::<T>(&normalized, query),
        }
    })
}

/// Finds the field a refusal is about when its path was lost (fields read through
/// `#[serde(flatten)]` carry none): each field alone is decoded again, and the first that
/// fails on its own is named. Every field of a message is optional, so only a wrong one
/// fails alone.
fn blame_one_field<T: DeserializeOwned>(normalized: &Value, query: bool) -> ApiError {
    let fallback = || ApiError::invalid(format!("Invalid request body.{SEE_THE_DOCS}"));
    let Some(fields) = normalized.as_object() else { return fallback() };
    FROM_QUERY.with(|flag| flag.set(query));
    let mut blamed = None;
    for (key, value) in fields {
        let alone = Value::Object(Map::from_iter([(key.clone(), value.clone())]));
        if let Err(error) = serde_path_to_error::deserialize::<_, T>(&alone) {
            let message = error.inner().to_string();
            blamed = Some(match message.strip_prefix(VERBATIM) {
                Some(verbatim) => ApiError::invalid(verbatim.to_string()),
                None => match offending_field(&alone, error.path()) {
                    (name, Some(inner)) => ApiError::invalid(invalid_value_message(&name, inner)),
                    _ => ApiError::invalid(invalid_value_message(key, value)),
                },
            });
            break;
        }
    }
    FROM_QUERY.with(|flag| flag.set(false));
    blamed.unwrap_or_else(fallback)
}

const SEE_THE_DOCS: &str = " See the API docs for more information about request parameters.";

/// MLflow's message for a value of the wrong type (`_validate_param_against_schema`).
pub fn invalid_value_message(name: &str, value: &Value) -> String {
    format!(
        "Invalid value {} for parameter '{name}' supplied:  Hint: Value was of type '{}'. See the API docs for more \
         information about request parameters.",
        python_json(value),
        python_type_name(value)
    )
}

/// The field a decoding error is about, named as MLflow names nested fields
/// (`metrics[0].key`), and its value. An item of a list that is itself of the wrong kind
/// is reported as the list's field (`metrics`), with the item as the value.
fn offending_field<'a>(root: &'a Value, path: &serde_path_to_error::Path) -> (String, Option<&'a Value>) {
    use serde_path_to_error::Segment;
    let mut name = String::new();
    let mut value = Some(root);
    for segment in path.iter() {
        match segment {
            Segment::Map { key } => {
                if !name.is_empty() {
                    name.push('.');
                }
                name.push_str(key);
                value = value.and_then(|v| v.get(key.as_str()));
            }
            Segment::Seq { index } => {
                value = value.and_then(|v| v.get(*index));
                name.push_str(&format!("[{index}]"));
            }
            Segment::Enum { .. } | Segment::Unknown => {}
        }
    }
    if name.ends_with(']') {
        if let Some(open) = name.rfind('[') {
            name.truncate(open);
        }
    }
    if name.is_empty() {
        return (name, None);
    }
    (name, value)
}

/// `json.dumps(value, sort_keys=True, separators=(",", ":"))` as Python writes it:
/// keys sorted, no spaces, non-ASCII escaped.
pub fn python_json(value: &Value) -> String {
    python_json_with(value, ",", ":")
}

/// `json.dumps(value)` with Python's default separators (`", "`, `": "`); keys sorted.
pub fn python_json_dumps(value: &Value) -> String {
    python_json_with(value, ", ", ": ")
}

fn python_json_with(value: &Value, item_separator: &str, key_separator: &str) -> String {
    let separators = (item_separator, key_separator);
    fn write(value: &Value, out: &mut String, separators: (&str, &str)) {
        match value {
            Value::String(s) => write_string(s, out),
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(separators.0);
                    }
                    write(item, out, separators);
                }
                out.push(']');
            }
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                out.push('{');
                for (i, key) in keys.into_iter().enumerate() {
                    if i > 0 {
                        out.push_str(separators.0);
                    }
                    write_string(key, out);
                    out.push_str(separators.1);
                    write(&map[key], out, separators);
                }
                out.push('}');
            }
            Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
                (Some(i), _, _) => out.push_str(&i.to_string()),
                (_, Some(u), _) => out.push_str(&u.to_string()),
                (_, _, Some(f)) => out.push_str(&python_float(f)),
                _ => out.push_str(&n.to_string()),
            },
            other => out.push_str(&other.to_string()),
        }
    }
    fn write_string(s: &str, out: &mut String) {
        ferroflow_core::pyjson::push_string(out, s);
    }
    let mut out = String::new();
    write(value, &mut out, separators);
    out
}

/// A float as Python's `repr` writes it (`1.0`, `1e+20`, `1.5e-07`).
fn python_float(f: f64) -> String {
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e16 {
        return format!("{f:.1}");
    }
    let text = format!("{f:?}");
    match text.split_once('e') {
        Some((mantissa, exponent)) => {
            let (sign, digits) = match exponent.strip_prefix('-') {
                Some(digits) => ('-', digits),
                None => ('+', exponent),
            };
            format!("{mantissa}e{sign}{digits:0>2}")
        }
        None => text,
    }
}

/// The name of the Python type a JSON value decodes to.
fn python_type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
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
pub(crate) fn is_plain_object(body: &[u8]) -> bool {
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

pub(crate) fn form_urlencoded_pairs(query: &str) -> impl Iterator<Item = (String, String)> + '_ {
    query.split('&').filter(|pair| !pair.is_empty()).map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (percent_decode(key), percent_decode(value))
    })
}

pub(crate) fn percent_decode(text: &str) -> String {
    decode_percents(text, true)
}

/// Python's `unquote`: `%XX` escapes only, a `+` stays a `+`.
pub(crate) fn percent_decode_path(text: &str) -> String {
    decode_percents(text, false)
}

fn decode_percents(text: &str, plus_is_space: bool) -> String {
    // `+` becomes a space before decoding, so an escaped `%2B` still decodes to `+`.
    let text = if plus_is_space { std::borrow::Cow::Owned(text.replace('+', " ")) } else { text.into() };
    percent_encoding::percent_decode_str(&text).decode_utf8_lossy().into_owned()
}

/// Form decoding (`+` is a space, `%XX` escapes) for values that must be valid UTF-8
/// once decoded, such as artifact paths; `None` if they are not.
pub(crate) fn form_decode_utf8(text: &str) -> Option<String> {
    let text = text.replace('+', " ");
    percent_encoding::percent_decode_str(&text).decode_utf8().ok().map(|decoded| decoded.into_owned())
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

/// A snake_case field name as protobuf spells its JSON name (`run_id` → `runId`).
fn map_key_spelled_camel(snake: &str) -> String {
    let mut out = String::with_capacity(snake.len());
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
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
                    let camel = if snake == key { map_key_spelled_camel(&snake) } else { key.clone() };
                    return Err(ApiError::invalid(format!(
                        "Request specifies both '{snake}' and '{camel}'; provide only one of them."
                    )));
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

/// Field readers that accept what MLflow's protobuf-JSON parsing accepts, and no more:
/// integers also as strings (`"12"`, `"1e3"`), doubles also as strings (`"1.5"`, `"NaN"`,
/// `"Infinity"`), enums by name or number. A string field takes only a string and a
/// boolean only `true`/`false`; query strings, all text, spell booleans as text and may
/// give one value for a repeated field. A refusal names no type: [`decode`] words it.
pub mod lenient {
    use super::*;
    use serde::de::Error as _;

    fn refuse<E: serde::de::Error>() -> E {
        E::custom("invalid value")
    }

    pub fn parse_i64(value: &Value) -> Option<i64> {
        match value {
            Value::Number(n) => {
                n.as_i64().or_else(|| n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 9.2e18).map(|f| f as i64))
            }
            // Python's int() then float(): surrounding whitespace is allowed, inner is not.
            Value::String(s) if !s.contains(' ') => {
                let s = s.trim();
                s.parse().ok().or_else(|| {
                    parse_python_float(s)
                        .filter(|f| f.is_finite() && f.fract() == 0.0 && f.abs() < 9.2e18)
                        .map(|f| f as i64)
                })
            }
            _ => None,
        }
    }

    /// Python's `float()` on text, less the `"nan"` that protobuf refuses.
    fn parse_python_float(text: &str) -> Option<f64> {
        let text = text.trim();
        if text == "nan" {
            return None;
        }
        let unsigned = text.strip_prefix(['+', '-']).unwrap_or(text);
        match unsigned.to_ascii_lowercase().as_str() {
            "nan" | "inf" | "infinity" => text.parse().ok(),
            // Rust would also take these spelled differently; Python takes digits only.
            lower if lower.chars().all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | '+' | '-')) => {
                text.parse().ok()
            }
            _ => None,
        }
    }

    pub fn parse_f64(value: &Value) -> Option<f64> {
        match value {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => parse_python_float(s),
            // Protobuf's float() takes a JSON boolean as 1.0 or 0.0.
            Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
            _ => None,
        }
    }

    pub fn opt_i64<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
        match Option::<Value>::deserialize(deserializer)? {
            None | Some(Value::Null) => Ok(None),
            Some(value) => parse_i64(&value).map(Some).ok_or_else(refuse),
        }
    }

    pub fn opt_f64<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<f64>, D::Error> {
        match Option::<Value>::deserialize(deserializer)? {
            None | Some(Value::Null) => Ok(None),
            Some(value) => parse_f64(&value).map(Some).ok_or_else(refuse),
        }
    }

    pub fn opt_bool<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<bool>, D::Error> {
        match Option::<Value>::deserialize(deserializer)? {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(b)),
            Some(Value::String(s)) if from_query() => match s.to_ascii_lowercase().as_str() {
                "true" => Ok(Some(true)),
                "false" => Ok(Some(false)),
                _ => Err(D::Error::custom(format!("{VERBATIM}Invalid boolean value: {s}, must be 'true' or 'false'."))),
            },
            Some(_) => Err(refuse()),
        }
    }

    /// A string field: a JSON string only, as in MLflow (`31` for a `run_id` is refused).
    pub fn opt_string<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
        match Option::<Value>::deserialize(deserializer)? {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(refuse()),
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
            f.write_str("a list")
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

        // A query string gives a field given once as a single value: a one-item list.
        // A message body must give a list, as protobuf JSON requires.
        fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Self::Value, E> {
            if !from_query() {
                return Err(refuse());
            }
            Self::one(Value::String(text.to_string()))
        }
    }

    /// Repeated strings.
    pub fn vec_string<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
        vec(deserializer)
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
                parse(&text).map(Some).ok_or_else(|| D::Error::custom(format!("invalid {type_name} value")))
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
