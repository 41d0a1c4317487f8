pub mod artifacts;
pub mod logged_models;
pub mod registry;
pub mod service;
pub mod tracking;
