//! The behaviour every [`Store`](crate::Store) backend must show, as plain async functions.
//!
//! A backend runs the whole suite with [`conformance_suite!`](crate::conformance_suite),
//! handing it an expression that yields `(store, guard)`: a fresh, empty store and
//! whatever must live as long as it (a temp folder, a scratch database). Each case panics
//! on a violation.

pub mod auth;
pub mod bulk_reads;
pub mod gc;
pub mod import;
pub mod logged_models;
pub mod registry;
#[cfg(feature = "property-tests")]
pub mod search_property;
pub mod tracking;

/// Expands to one `#[tokio::test]` per conformance case for the store built by `$make`.
#[macro_export]
macro_rules! conformance_suite {
    ($make:expr) => {
        $crate::conformance_cases!($make; tracking;
            default_experiment_exists,
            experiment_lifecycle,
            experiment_tags,
            run_names_and_tags,
            run_update_and_lifecycle,
            params_are_write_once,
            failed_batch_changes_nothing,
            metrics_latest_and_history,
            a_batch_with_some_points_already_stored,
            negative_zero_reads_back_as_zero,
            metric_history_pages,
            search_runs_default_order_and_paging,
            search_experiments_paging,
            inputs_and_outputs,
            bulk_interval_samples,
            bulk_interval_matches_reference_sampling,
            model_history_appends,
            history_pages_follow_mlflows_order,
            concurrent_writers_all_succeed,
            concurrent_experiment_renames_make_one_winner,
        );
        $crate::conformance_cases!($make; bulk_reads;
            history_bulk_orders_by_run_then_time_and_caps,
            search_datasets_lists_distinct_pairs,
            chart_series_downsamples_by_bucket,
        );
        $crate::registry_conformance_cases!($make);
        $crate::logged_model_conformance_cases!($make);
        $crate::gc_conformance_cases!($make);
        $crate::import_conformance_cases!($make);
        $crate::auth_conformance_cases!($make);
    };
}

/// Expands to one `#[tokio::test]` per named case of `conformance::$module`.
#[macro_export]
macro_rules! conformance_cases {
    ($make:expr; $module:ident; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let (store, _guard) = $make;
                $crate::conformance::$module::$case(&store).await;
            }
        )*
    };
}
