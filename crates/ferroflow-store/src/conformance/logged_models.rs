//! MLflow 3 logged-model behaviour.

/// The logged-model cases, for [`conformance_suite!`](crate::conformance_suite).
#[macro_export]
macro_rules! logged_model_conformance_cases {
    ($make:expr) => {
        $crate::conformance_cases!($make; logged_models;);
    };
}
