pub mod artifacts;
pub mod graphql;
pub mod logged_models;
pub mod multipart;
pub mod registry;
pub mod service;
pub mod tracking;
pub mod webhooks;
