pub mod service;
pub mod tracking;
