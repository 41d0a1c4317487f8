//! Model registry behaviour: registered models, versions, stages, aliases, tags.

/// The registry cases, for [`conformance_suite!`](crate::conformance_suite).
#[macro_export]
macro_rules! registry_conformance_cases {
    ($make:expr) => {
        $crate::conformance_cases!($make; registry;);
    };
}
