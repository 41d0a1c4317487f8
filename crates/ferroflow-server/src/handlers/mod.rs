pub mod artifacts;
pub mod artifacts_ui;
pub mod logged_models;
pub mod multipart;
pub mod registry;
pub mod service;
pub mod tracking;
pub mod webhooks;
