//! ferroflow's pure core: MLflow's entities, its validation rules, its error codes and
//! its search language. Nothing here does I/O; storage and HTTP build on it.

pub mod auth;
pub mod downsample;
pub mod error;
pub mod importance;
pub mod model_history;
pub mod names;
pub mod paging;
pub mod pyjson;
pub mod registry;
pub mod search;
pub mod types;
pub mod validation;

pub use error::{Error, ErrorCode, Result};

/// Milliseconds since the Unix epoch, MLflow's timestamp unit.
pub type Millis = i64;
