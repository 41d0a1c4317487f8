//! Model registry RPCs: registered models, versions, stages, aliases, tags.

use axum::Router;

use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
}
