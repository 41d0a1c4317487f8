pub mod artifacts;
pub mod logged_models;
pub mod multipart;
pub mod registry;
pub mod service;
pub mod tracking;
pub mod webhooks;
