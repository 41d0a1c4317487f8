//! Model registry behaviour: registered models, versions, stages, aliases, tags, searches
//! and webhooks.

use ferroflow_core::registry::{
    ModelVersion, Stage, WebhookAction, WebhookEntity, WebhookEvent, WebhookStatus, PROMPT_TAG_KEY,
};
use ferroflow_core::types::KeyValue;
use ferroflow_core::ErrorCode;

use crate::conformance::tracking::futures_join_all;
use crate::registry::{CreateModelVersion, CreateRegisteredModel, CreateWebhook, RegistrySearch, UpdateWebhook};
use crate::Store;

/// The registry cases, for [`conformance_suite!`](crate::conformance_suite).
#[macro_export]
macro_rules! registry_conformance_cases {
    ($make:expr) => {
        $crate::conformance_cases!($make; registry;
            registered_model_lifecycle,
            registered_model_tags,
            prompts_and_models_share_one_namespace,
            version_numbers_are_never_reused,
            concurrent_version_creates_are_gap_free,
            concurrent_creates_of_one_name_make_one_model,
            concurrent_renames_onto_one_name_make_one_winner,
            concurrent_archiving_transitions_leave_one_in_the_stage,
            concurrent_writers_of_one_model_all_succeed,
            version_descriptions_and_download_uris,
            stages_latest_versions_and_archiving,
            aliases_follow_their_versions,
            version_tags,
            rename_carries_versions_and_aliases,
            delete_model_cascades,
            search_registered_models_filters_orders_and_pages,
            search_model_versions_filters_orders_and_pages,
            webhooks_crud_and_events,
            webhook_outbox_claims_are_exclusive_and_leased,
        );
    };
}

/// Lets the millisecond clock move on, for cases that order by update time.
fn tick() {
    std::thread::sleep(std::time::Duration::from_millis(3));
}

fn kv(key: &str, value: &str) -> KeyValue {
    KeyValue::new(key, value)
}

async fn model<S: Store>(store: &S, name: &str) {
    let request = CreateRegisteredModel { name: name.into(), ..Default::default() };
    store.create_registered_model(request).await.expect("create registered model");
}

fn version_request(name: &str, source: &str) -> CreateModelVersion {
    CreateModelVersion {
        name: name.into(),
        source: source.into(),
        run_id: Some(String::new()),
        run_link: Some(String::new()),
        description: Some(String::new()),
        ..Default::default()
    }
}

async fn version<S: Store>(store: &S, name: &str) -> ModelVersion {
    store.create_model_version(version_request(name, "s3://bucket/model")).await.expect("create model version")
}

fn search(filter: &str, max_results: usize, order_by: &[&str], page_token: Option<String>) -> RegistrySearch {
    RegistrySearch {
        filter: (!filter.is_empty()).then(|| filter.to_string()),
        max_results,
        order_by: order_by.iter().map(|s| s.to_string()).collect(),
        page_token,
        visible: None,
    }
}

pub async fn registered_model_lifecycle<S: Store>(store: &S) {
    let created = store
        .create_registered_model(CreateRegisteredModel {
            name: "churn".into(),
            tags: vec![kv("team", "a"), kv("team", "b")],
            description: Some("first".into()),
        })
        .await
        .unwrap();
    assert_eq!(created.name, "churn");
    assert_eq!(created.creation_timestamp, created.last_updated_timestamp);
    assert_eq!(created.tags, vec![kv("team", "b")], "a repeated tag key keeps its last value");
    assert_eq!(created.description.as_deref(), Some("first"));
    assert!(created.latest_versions.is_empty() && created.aliases.is_empty());

    let duplicate = store.create_registered_model(CreateRegisteredModel { name: "churn".into(), ..Default::default() });
    let duplicate = duplicate.await.unwrap_err();
    assert_eq!(duplicate.code, ErrorCode::ResourceAlreadyExists);
    assert_eq!(duplicate.message, "Registered Model (name=churn) already exists.");

    let missing = store.get_registered_model("nope").await.unwrap_err();
    assert_eq!(
        (missing.code, missing.message.as_str()),
        (ErrorCode::ResourceDoesNotExist, "Registered Model with name=nope not found")
    );

    let updated = store.update_registered_model("churn", Some("second".into())).await.unwrap();
    assert_eq!(updated.description.as_deref(), Some("second"));
    assert!(updated.last_updated_timestamp >= created.last_updated_timestamp);
    assert_eq!(store.get_registered_model("churn").await.unwrap().description.as_deref(), Some("second"));

    model(store, "other").await;
    let taken = store.rename_registered_model("churn", "other").await.unwrap_err();
    assert_eq!(taken.code, ErrorCode::ResourceAlreadyExists);
    let renamed = store.rename_registered_model("churn", "churn-2").await.unwrap();
    assert_eq!(renamed.name, "churn-2");
    assert_eq!(store.get_registered_model("churn").await.unwrap_err().code, ErrorCode::ResourceDoesNotExist);
    assert_eq!(store.get_registered_model("churn-2").await.unwrap().tags, vec![kv("team", "b")]);
    assert_eq!(store.rename_registered_model("nope", "x").await.unwrap_err().code, ErrorCode::ResourceDoesNotExist);

    store.delete_registered_model("churn-2").await.unwrap();
    assert_eq!(store.get_registered_model("churn-2").await.unwrap_err().code, ErrorCode::ResourceDoesNotExist);
    assert_eq!(store.delete_registered_model("churn-2").await.unwrap_err().code, ErrorCode::ResourceDoesNotExist);
    assert_eq!(store.update_registered_model("churn-2", None).await.unwrap_err().code, ErrorCode::ResourceDoesNotExist);
}

pub async fn registered_model_tags<S: Store>(store: &S) {
    model(store, "m").await;
    store.set_registered_model_tag("m", kv("b", "1")).await.unwrap();
    store.set_registered_model_tag("m", kv("a", "2")).await.unwrap();
    store.set_registered_model_tag("m", kv("b", "3")).await.unwrap();
    // Tags list in the order they were first set, as in MLflow.
    assert_eq!(store.get_registered_model("m").await.unwrap().tags, vec![kv("b", "3"), kv("a", "2")]);
    store.delete_registered_model_tag("m", "a").await.unwrap();
    // Deleting a tag that is not there is fine; the model must exist.
    store.delete_registered_model_tag("m", "a").await.unwrap();
    assert_eq!(store.get_registered_model("m").await.unwrap().tags, vec![kv("b", "3")]);
    let missing = store.set_registered_model_tag("nope", kv("a", "1")).await.unwrap_err();
    assert_eq!(missing.code, ErrorCode::ResourceDoesNotExist);
    let missing = store.delete_registered_model_tag("nope", "a").await.unwrap_err();
    assert_eq!(missing.code, ErrorCode::ResourceDoesNotExist);
}

pub async fn prompts_and_models_share_one_namespace<S: Store>(store: &S) {
    let prompt =
        CreateRegisteredModel { name: "p".into(), tags: vec![kv(PROMPT_TAG_KEY, "true")], ..Default::default() };
    assert!(store.create_registered_model(prompt.clone()).await.unwrap().is_prompt());
    let as_model = store.create_registered_model(CreateRegisteredModel { name: "p".into(), ..Default::default() });
    let as_model = as_model.await.unwrap_err();
    assert_eq!(as_model.code, ErrorCode::ResourceAlreadyExists);
    assert!(as_model.message.contains("already taken by a prompt"), "{}", as_model.message);
    let again = store.create_registered_model(prompt).await.unwrap_err();
    assert_eq!(again.message, "Prompt (name=p) already exists.");
}

pub async fn version_numbers_are_never_reused<S: Store>(store: &S) {
    model(store, "m").await;
    let before = store.get_registered_model("m").await.unwrap();
    let first = version(store, "m").await;
    assert_eq!((first.version, first.current_stage, first.status), (1, Stage::None, "READY"));
    assert_eq!(first.source.as_deref(), Some("s3://bucket/model"));
    assert!(store.get_registered_model("m").await.unwrap().last_updated_timestamp >= before.last_updated_timestamp);
    assert_eq!(version(store, "m").await.version, 2);
    assert_eq!(version(store, "m").await.version, 3);

    store.delete_model_version("m", 3).await.unwrap();
    store.delete_model_version("m", 2).await.unwrap();
    let gone = store.get_model_version("m", 3).await.unwrap_err();
    assert_eq!(
        (gone.code, gone.message.as_str()),
        (ErrorCode::ResourceDoesNotExist, "Model Version (name=m, version=3) not found")
    );
    assert_eq!(store.delete_model_version("m", 3).await.unwrap_err().code, ErrorCode::ResourceDoesNotExist);
    // Deleted numbers stay taken.
    assert_eq!(version(store, "m").await.version, 4);

    // Versions of unknown models: creating needs the model; reading says the version is missing.
    let no_model = store.create_model_version(version_request("nope", "s3://b/m")).await.unwrap_err();
    assert_eq!(
        (no_model.code, no_model.message.as_str()),
        (ErrorCode::ResourceDoesNotExist, "Registered Model with name=nope not found")
    );
    let no_model = store.get_model_version("nope", 1).await.unwrap_err();
    assert_eq!(no_model.message, "Model Version (name=nope, version=1) not found");
}

pub async fn concurrent_version_creates_are_gap_free<S: Store>(store: &S) {
    model(store, "m").await;
    let creates = (0..64).map(|_| store.create_model_version(version_request("m", "s3://bucket/model")));
    let mut numbers: Vec<i64> =
        futures_join_all(creates).await.into_iter().map(|v| v.expect("create").version).collect();
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=64).collect::<Vec<i64>>());
}

/// Of several writers creating one name at once (on any number of replicas), one creates
/// the model and every other hears RESOURCE_ALREADY_EXISTS, never a server error.
pub async fn concurrent_creates_of_one_name_make_one_model<S: Store>(store: &S) {
    let creates = (0..8).map(|i| {
        store.create_registered_model(CreateRegisteredModel {
            name: "m".into(),
            tags: vec![kv("writer", &i.to_string())],
            ..Default::default()
        })
    });
    let outcomes = futures_join_all(creates).await;
    let created: Vec<_> = outcomes.iter().filter_map(|outcome| outcome.as_ref().ok()).collect();
    assert_eq!(created.len(), 1, "{outcomes:?}");
    for error in outcomes.iter().filter_map(|outcome| outcome.as_ref().err()) {
        assert_eq!(
            (error.code, error.message.as_str()),
            (ErrorCode::ResourceAlreadyExists, "Registered Model (name=m) already exists.")
        );
    }
    // The winner's tags, and no one else's.
    assert_eq!(store.get_registered_model("m").await.unwrap().tags, created[0].tags);
}

/// Of several models renamed onto one free name at once, one takes it; the others keep
/// their names and hear RESOURCE_ALREADY_EXISTS.
pub async fn concurrent_renames_onto_one_name_make_one_winner<S: Store>(store: &S) {
    let names: Vec<String> = (0..8).map(|i| format!("m{i}")).collect();
    for name in &names {
        model(store, name).await;
    }
    let renames = names.iter().map(|name| store.rename_registered_model(name, "target"));
    let outcomes = futures_join_all(renames).await;
    assert_eq!(outcomes.iter().filter(|outcome| outcome.is_ok()).count(), 1, "{outcomes:?}");
    for error in outcomes.iter().filter_map(|outcome| outcome.as_ref().err()) {
        assert_eq!(error.code, ErrorCode::ResourceAlreadyExists, "{}", error.message);
    }
    let all = store.search_registered_models(search("", 100, &[], None)).await.unwrap();
    assert_eq!(all.items.len(), 8);
    assert_eq!(all.items.iter().filter(|m| m.name == "target").count(), 1);
}

/// Versions moved to one stage at once, each archiving the others: every transition
/// succeeds (none deadlocks), and exactly one version is left in the stage.
pub async fn concurrent_archiving_transitions_leave_one_in_the_stage<S: Store>(store: &S) {
    model(store, "m").await;
    for _ in 0..8 {
        version(store, "m").await;
    }
    let transitions = (1..=8).map(|v| store.transition_model_version_stage("m", v, Stage::Production, true));
    for outcome in futures_join_all(transitions).await {
        outcome.expect("a concurrent transition failed");
    }
    let mut in_production = 0;
    for v in 1..=8 {
        match store.get_model_version("m", v).await.unwrap().current_stage {
            Stage::Production => in_production += 1,
            Stage::Archived => {}
            other => panic!("version {v} is in {other}"),
        }
    }
    assert_eq!(in_production, 1);
    let latest = store.get_latest_versions("m", vec![Stage::Production]).await.unwrap();
    assert_eq!(latest.len(), 1);
}

/// Every kind of write to one model at once: versions, their tags and aliases, the
/// model's tags and description. All succeed, none is lost.
pub async fn concurrent_writers_of_one_model_all_succeed<S: Store>(store: &S) {
    type Write<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = ferroflow_core::Result<()>> + Send + 'a>>;
    model(store, "m").await;
    version(store, "m").await;
    let mut writes: Vec<Write<'_>> = Vec::new();
    for i in 0..8 {
        writes.push(Box::pin(
            async move { store.create_model_version(version_request("m", "s3://b/m")).await.map(|_| ()) },
        ));
        writes.push(Box::pin(store.set_model_version_tag("m", 1, kv(&format!("v{i}"), "x"))));
        writes.push(Box::pin(store.set_registered_model_tag("m", kv(&format!("m{i}"), "x"))));
        writes.push(Box::pin(async move { store.set_registered_model_alias("m", &format!("a{i}"), 1).await }));
        writes
            .push(Box::pin(async move { store.update_registered_model("m", Some(format!("d{i}"))).await.map(|_| ()) }));
    }
    for outcome in futures_join_all(writes).await {
        outcome.expect("a concurrent write failed");
    }
    let model = store.get_registered_model("m").await.unwrap();
    assert_eq!((model.tags.len(), model.aliases.len()), (8, 8));
    assert_eq!(store.get_model_version("m", 1).await.unwrap().tags.len(), 8);
    let versions = store.search_model_versions(search("name = 'm'", 100, &[], None)).await.unwrap();
    let mut numbers: Vec<i64> = versions.items.iter().map(|v| v.version).collect();
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=9).collect::<Vec<i64>>());
}

pub async fn version_descriptions_and_download_uris<S: Store>(store: &S) {
    model(store, "m").await;
    let mut request = version_request("m", "models:/m-abc");
    request.storage_location = Some("mlflow-artifacts:/1/models/m-abc/artifacts".into());
    request.run_id = Some("run1".into());
    request.tags = vec![kv("k", "v")];
    request.description = Some("d".into());
    let created = store.create_model_version(request).await.unwrap();
    assert_eq!((created.run_id.as_deref(), created.description.as_deref()), (Some("run1"), Some("d")));
    assert_eq!(created.tags, vec![kv("k", "v")]);
    assert_eq!(
        store.get_model_version_download_uri("m", 1).await.unwrap(),
        "mlflow-artifacts:/1/models/m-abc/artifacts"
    );
    version(store, "m").await;
    assert_eq!(store.get_model_version_download_uri("m", 2).await.unwrap(), "s3://bucket/model");
    assert_eq!(store.get_model_version_download_uri("m", 9).await.unwrap_err().code, ErrorCode::ResourceDoesNotExist);

    let updated = store.update_model_version("m", 1, Some("new".into())).await.unwrap();
    assert_eq!(updated.description.as_deref(), Some("new"));
    assert!(updated.last_updated_timestamp >= created.last_updated_timestamp);
    let cleared = store.update_model_version("m", 1, None).await.unwrap();
    assert_eq!(cleared.description, None);
    assert_eq!(store.update_model_version("m", 7, None).await.unwrap_err().code, ErrorCode::ResourceDoesNotExist);
}

pub async fn stages_latest_versions_and_archiving<S: Store>(store: &S) {
    model(store, "m").await;
    for _ in 0..4 {
        version(store, "m").await;
    }
    let staged = store.transition_model_version_stage("m", 1, Stage::Staging, false).await.unwrap();
    assert_eq!(staged.current_stage, Stage::Staging);
    store.transition_model_version_stage("m", 2, Stage::Staging, false).await.unwrap();
    store.transition_model_version_stage("m", 3, Stage::Production, false).await.unwrap();

    let stages =
        |versions: Vec<ModelVersion>| versions.into_iter().map(|v| (v.version, v.current_stage)).collect::<Vec<_>>();
    let latest = store.get_latest_versions("m", vec![]).await.unwrap();
    assert_eq!(stages(latest), vec![(2, Stage::Staging), (3, Stage::Production), (4, Stage::None)]);
    let production = store.get_latest_versions("m", vec![Stage::Production]).await.unwrap();
    assert_eq!(stages(production), vec![(3, Stage::Production)]);
    let model_view = store.get_registered_model("m").await.unwrap();
    assert_eq!(stages(model_view.latest_versions), vec![(2, Stage::Staging), (3, Stage::Production), (4, Stage::None)]);

    // Archiving moves every other version in the target stage.
    store.transition_model_version_stage("m", 4, Stage::Staging, true).await.unwrap();
    assert_eq!(store.get_model_version("m", 1).await.unwrap().current_stage, Stage::Archived);
    assert_eq!(store.get_model_version("m", 2).await.unwrap().current_stage, Stage::Archived);
    assert_eq!(store.get_model_version("m", 3).await.unwrap().current_stage, Stage::Production);
    let latest = store.get_latest_versions("m", vec![]).await.unwrap();
    assert_eq!(stages(latest), vec![(2, Stage::Archived), (3, Stage::Production), (4, Stage::Staging)]);

    let bad = store.transition_model_version_stage("m", 4, Stage::Archived, true).await.unwrap_err();
    assert_eq!(bad.code, ErrorCode::InvalidParameterValue);
    let missing = store.transition_model_version_stage("m", 99, Stage::Production, true).await.unwrap_err();
    assert_eq!(missing.code, ErrorCode::ResourceDoesNotExist);
    // A failed transition changes nothing.
    assert_eq!(store.get_model_version("m", 3).await.unwrap().current_stage, Stage::Production);
    assert_eq!(store.get_latest_versions("nope", vec![]).await.unwrap_err().code, ErrorCode::ResourceDoesNotExist);
}

pub async fn aliases_follow_their_versions<S: Store>(store: &S) {
    model(store, "m").await;
    version(store, "m").await;
    version(store, "m").await;
    store.set_registered_model_alias("m", "champion", 1).await.unwrap();
    store.set_registered_model_alias("m", "challenger", 2).await.unwrap();
    let by_alias = store.get_model_version_by_alias("m", "champion").await.unwrap();
    assert_eq!((by_alias.version, by_alias.aliases.clone()), (1, vec!["champion".to_string()]));
    assert_eq!(store.get_model_version("m", 2).await.unwrap().aliases, vec!["challenger".to_string()]);

    // Re-pointing moves the alias.
    store.set_registered_model_alias("m", "champion", 2).await.unwrap();
    assert_eq!(
        store.get_model_version("m", 2).await.unwrap().aliases,
        vec!["challenger".to_string(), "champion".to_string()]
    );
    assert!(store.get_model_version("m", 1).await.unwrap().aliases.is_empty());
    let aliases: Vec<(String, i64)> =
        store.get_registered_model("m").await.unwrap().aliases.into_iter().map(|a| (a.alias, a.version)).collect();
    assert_eq!(aliases, vec![("challenger".to_string(), 2), ("champion".to_string(), 2)]);

    // `latest` is the highest version.
    assert_eq!(store.get_model_version_by_alias("m", "LATEST").await.unwrap().version, 2);
    let unknown = store.get_model_version_by_alias("m", "nope").await.unwrap_err();
    assert_eq!(
        (unknown.code, unknown.message.as_str()),
        (ErrorCode::InvalidParameterValue, "Registered model alias nope not found.")
    );
    let no_version = store.set_registered_model_alias("m", "x", 9).await.unwrap_err();
    assert_eq!(no_version.code, ErrorCode::ResourceDoesNotExist);

    // Deleting a version drops its aliases.
    store.delete_model_version("m", 2).await.unwrap();
    assert!(store.get_registered_model("m").await.unwrap().aliases.is_empty());
    assert_eq!(
        store.get_model_version_by_alias("m", "champion").await.unwrap_err().code,
        ErrorCode::InvalidParameterValue
    );
    assert_eq!(store.get_model_version_by_alias("m", "latest").await.unwrap().version, 1);

    store.set_registered_model_alias("m", "a1", 1).await.unwrap();
    store.delete_registered_model_alias("m", "a1").await.unwrap();
    store.delete_registered_model_alias("m", "a1").await.unwrap();
    assert!(store.get_model_version("m", 1).await.unwrap().aliases.is_empty());
    let no_model = store.delete_registered_model_alias("nope", "a1").await.unwrap_err();
    assert_eq!(no_model.code, ErrorCode::ResourceDoesNotExist);

    model(store, "empty").await;
    let none = store.get_model_version_by_alias("empty", "latest").await.unwrap_err();
    assert_eq!(none.code, ErrorCode::ResourceDoesNotExist);
}

pub async fn version_tags<S: Store>(store: &S) {
    model(store, "m").await;
    version(store, "m").await;
    store.set_model_version_tag("m", 1, kv("k", "v")).await.unwrap();
    store.set_model_version_tag("m", 1, kv("k", "w")).await.unwrap();
    store.set_model_version_tag("m", 1, kv("a", "")).await.unwrap();
    assert_eq!(store.get_model_version("m", 1).await.unwrap().tags, vec![kv("k", "w"), kv("a", "")]);
    assert_eq!(store.get_registered_model("m").await.unwrap().latest_versions[0].tags, vec![kv("k", "w"), kv("a", "")]);
    store.delete_model_version_tag("m", 1, "k").await.unwrap();
    store.delete_model_version_tag("m", 1, "k").await.unwrap();
    assert_eq!(store.get_model_version("m", 1).await.unwrap().tags, vec![kv("a", "")]);
    let missing = store.set_model_version_tag("m", 5, kv("k", "v")).await.unwrap_err();
    assert_eq!(missing.code, ErrorCode::ResourceDoesNotExist);
    let missing = store.delete_model_version_tag("m", 5, "k").await.unwrap_err();
    assert_eq!(missing.code, ErrorCode::ResourceDoesNotExist);
}

pub async fn rename_carries_versions_and_aliases<S: Store>(store: &S) {
    model(store, "old").await;
    version(store, "old").await;
    store.set_registered_model_alias("old", "prod", 1).await.unwrap();
    store.set_model_version_tag("old", 1, kv("k", "v")).await.unwrap();
    let renamed = store.rename_registered_model("old", "new").await.unwrap();
    assert_eq!(renamed.latest_versions[0].name, "new");
    let moved = store.get_model_version_by_alias("new", "prod").await.unwrap();
    assert_eq!((moved.name.as_str(), moved.version, moved.tags.clone()), ("new", 1, vec![kv("k", "v")]));
    assert_eq!(store.get_model_version("old", 1).await.unwrap_err().code, ErrorCode::ResourceDoesNotExist);
    assert_eq!(version(store, "new").await.version, 2);
}

pub async fn delete_model_cascades<S: Store>(store: &S) {
    model(store, "m").await;
    version(store, "m").await;
    store.set_registered_model_alias("m", "a", 1).await.unwrap();
    store.set_registered_model_tag("m", kv("t", "1")).await.unwrap();
    store.set_model_version_tag("m", 1, kv("k", "v")).await.unwrap();
    store.delete_registered_model("m").await.unwrap();
    model(store, "m").await;
    let fresh = store.get_registered_model("m").await.unwrap();
    assert!(fresh.tags.is_empty() && fresh.aliases.is_empty() && fresh.latest_versions.is_empty());
    let first = version(store, "m").await;
    assert_eq!((first.version, first.tags.len(), first.aliases.len()), (1, 0, 0));
}

pub async fn search_registered_models_filters_orders_and_pages<S: Store>(store: &S) {
    for name in ["beta", "alpha", "gamma", "Alpine"] {
        model(store, name).await;
    }
    store.set_registered_model_tag("gamma", kv("team", "ml")).await.unwrap();
    let prompt =
        CreateRegisteredModel { name: "aprompt".into(), tags: vec![kv(PROMPT_TAG_KEY, "true")], ..Default::default() };
    store.create_registered_model(prompt).await.unwrap();
    tick();
    version(store, "alpha").await;
    store.set_registered_model_alias("alpha", "best", 1).await.unwrap();

    let names = |page: ferroflow_core::types::Page<ferroflow_core::registry::RegisteredModel>| {
        page.items.into_iter().map(|m| m.name).collect::<Vec<_>>()
    };
    // The default order is by name (byte order), prompts hidden.
    let all = store.search_registered_models(search("", 100, &[], None)).await.unwrap();
    assert!(all.next_page_token.is_none());
    assert_eq!(names(all.clone()), vec!["Alpine", "alpha", "beta", "gamma"]);
    let alpha = &all.items[1];
    assert_eq!((alpha.latest_versions.len(), alpha.aliases.len()), (1, 1));

    // The client's own filter shape.
    let client_filter = "name LIKE 'al%' AND tag.`mlflow.prompt.is_prompt` != 'true'";
    assert_eq!(
        names(store.search_registered_models(search(client_filter, 100, &[], None)).await.unwrap()),
        vec!["alpha"]
    );
    let ilike = "name ILIKE 'al%' AND tag.`mlflow.prompt.is_prompt` != 'true'";
    assert_eq!(
        names(store.search_registered_models(search(ilike, 100, &[], None)).await.unwrap()),
        vec!["Alpine", "alpha"]
    );
    let prompts = "tags.`mlflow.prompt.is_prompt` = 'true'";
    assert_eq!(names(store.search_registered_models(search(prompts, 100, &[], None)).await.unwrap()), vec!["aprompt"]);
    assert_eq!(
        names(store.search_registered_models(search("tags.team = 'ml'", 100, &[], None)).await.unwrap()),
        vec!["gamma"]
    );
    assert_eq!(
        names(store.search_registered_models(search("tags.team != 'x'", 100, &[], None)).await.unwrap()),
        vec!["gamma"]
    );
    let listed = "name IN ('beta', 'gamma', 'nope')";
    assert_eq!(
        names(store.search_registered_models(search(listed, 100, &[], None)).await.unwrap()),
        vec!["beta", "gamma"]
    );
    assert_eq!(
        names(store.search_registered_models(search("name = 'beta'", 100, &[], None)).await.unwrap()),
        vec!["beta"]
    );

    let descending = store.search_registered_models(search("", 100, &["name DESC"], None)).await.unwrap();
    assert_eq!(names(descending), vec!["gamma", "beta", "alpha", "Alpine"]);
    let by_update = store.search_registered_models(search("", 100, &["timestamp DESC"], None)).await.unwrap();
    assert_eq!(by_update.items[0].name, "alpha", "alpha changed last");

    // Paging.
    let first = store.search_registered_models(search("", 3, &[], None)).await.unwrap();
    assert_eq!(names(first.clone()), vec!["Alpine", "alpha", "beta"]);
    let token = first.next_page_token.expect("a second page");
    let second = store.search_registered_models(search("", 3, &[], Some(token))).await.unwrap();
    assert!(second.next_page_token.is_none());
    assert_eq!(names(second), vec!["gamma"]);

    for (filter, order) in [("name > 'a'", ""), ("bogus = 'x'", ""), ("", "creation_timestamp"), ("", "name sideways")]
    {
        let order: Vec<&str> = if order.is_empty() { vec![] } else { vec![order] };
        let error = store.search_registered_models(search(filter, 10, &order, None)).await.unwrap_err();
        assert_eq!(error.code, ErrorCode::InvalidParameterValue, "{filter:?} {order:?}: {}", error.message);
    }
    let bad_token = store.search_registered_models(search("", 10, &[], Some("garbage!".into()))).await.unwrap_err();
    assert_eq!(bad_token.code, ErrorCode::InvalidParameterValue);
}

pub async fn search_model_versions_filters_orders_and_pages<S: Store>(store: &S) {
    model(store, "a").await;
    model(store, "b").await;
    for (name, run_id) in [("a", "r1"), ("a", "r2"), ("b", "r1")] {
        let mut request = version_request(name, &format!("s3://bucket/{name}"));
        request.run_id = Some(run_id.into());
        store.create_model_version(request).await.unwrap();
    }
    store.set_model_version_tag("a", 2, kv("k", "v")).await.unwrap();
    store.delete_model_version("b", 1).await.unwrap();
    tick();
    version(store, "b").await;

    let keys = |page: ferroflow_core::types::Page<ModelVersion>| {
        page.items.into_iter().map(|v| (v.name, v.version)).collect::<Vec<_>>()
    };
    let pair = |name: &str, version: i64| (name.to_string(), version);
    let ordered =
        store.search_model_versions(search("", 100, &["name ASC", "version_number ASC"], None)).await.unwrap();
    assert_eq!(keys(ordered), vec![pair("a", 1), pair("a", 2), pair("b", 2)], "deleted versions are hidden");
    // The default order puts the most recently updated first.
    let default = store.search_model_versions(search("", 100, &[], None)).await.unwrap();
    assert_eq!(default.items[0].name, "b");
    assert!(default.items.iter().all(|v| v.aliases.is_empty()));

    let by_name = store.search_model_versions(search("name = 'a'", 100, &[], None)).await.unwrap();
    assert_eq!(keys(by_name), vec![pair("a", 2), pair("a", 1)]);
    let by_run = store.search_model_versions(search("run_id = 'r1'", 100, &[], None)).await.unwrap();
    assert_eq!(keys(by_run), vec![pair("a", 1)]);
    let runs = store
        .search_model_versions(search("run_id IN ('r1', 'r2')", 100, &["version_number ASC"], None))
        .await
        .unwrap();
    assert_eq!(keys(runs), vec![pair("a", 1), pair("a", 2)]);
    let newer =
        store.search_model_versions(search("name = 'a' AND version_number >= 2", 100, &[], None)).await.unwrap();
    assert_eq!(keys(newer), vec![pair("a", 2)]);
    let tagged = store.search_model_versions(search("tags.k = 'v'", 100, &[], None)).await.unwrap();
    assert_eq!(tagged.items[0].tags, vec![kv("k", "v")]);
    let sources = store.search_model_versions(search("source_path LIKE '%/a'", 100, &[], None)).await.unwrap();
    assert_eq!(keys(sources), vec![pair("a", 2), pair("a", 1)]);

    let first = store.search_model_versions(search("", 2, &["name", "version_number"], None)).await.unwrap();
    assert_eq!(keys(first.clone()), vec![pair("a", 1), pair("a", 2)]);
    let second =
        store.search_model_versions(search("", 2, &["name", "version_number"], first.next_page_token)).await.unwrap();
    assert_eq!((keys(second.clone()), second.next_page_token), (vec![pair("b", 2)], None));

    for filter in ["version_number = 'x'", "run_id IS NULL", "name > 'a'", "source_path IN ('x')"] {
        let error = store.search_model_versions(search(filter, 10, &[], None)).await.unwrap_err();
        assert_eq!(error.code, ErrorCode::InvalidParameterValue, "{filter}: {}", error.message);
    }
    // OR is one of ferroflow's search extensions (MLflow rejects it).
    let either = store.search_model_versions(search("run_id = 'r1' OR name = 'b'", 10, &[], None)).await.unwrap();
    assert_eq!(either.items.len(), 2, "{:?}", keys(either.clone()));
}

pub async fn webhooks_crud_and_events<S: Store>(store: &S) {
    let created_event = WebhookEvent::new(WebhookEntity::ModelVersion, WebhookAction::Created).unwrap();
    let tag_event = WebhookEvent::new(WebhookEntity::ModelVersionTag, WebhookAction::Set).unwrap();
    let first = store
        .create_webhook(CreateWebhook {
            name: "ci".into(),
            url: "https://ci.example.com/hook".into(),
            events: vec![created_event, tag_event, created_event],
            description: Some("deploys".into()),
            secret: Some("s3cr3t".into()),
            status: WebhookStatus::Active,
        })
        .await
        .unwrap();
    assert_eq!(first.events, vec![created_event, tag_event], "duplicates collapse; stable order");
    assert_eq!(first.secret.as_deref(), Some("s3cr3t"));
    let fetched = store.get_webhook(&first.webhook_id).await.unwrap();
    assert_eq!(fetched, first);

    let second = store
        .create_webhook(CreateWebhook {
            name: "audit".into(),
            url: "https://audit.example.com".into(),
            events: vec![tag_event],
            description: None,
            secret: None,
            status: WebhookStatus::Disabled,
        })
        .await
        .unwrap();
    let subscribed = store.list_webhooks_by_event(tag_event).await.unwrap();
    let mut ids: Vec<&str> = subscribed.iter().map(|w| w.webhook_id.as_str()).collect();
    ids.sort_unstable();
    let mut expected = vec![first.webhook_id.as_str(), second.webhook_id.as_str()];
    expected.sort_unstable();
    assert_eq!(ids, expected);
    assert_eq!(store.list_webhooks_by_event(created_event).await.unwrap().len(), 1);

    let page = store.list_webhooks(1, None).await.unwrap();
    assert_eq!(page.items.len(), 1);
    let rest = store.list_webhooks(1, page.next_page_token.clone()).await.unwrap();
    assert_eq!(rest.items.len(), 1);
    assert!(rest.next_page_token.is_none());
    assert_ne!(page.items[0].webhook_id, rest.items[0].webhook_id);

    let updated = store
        .update_webhook(UpdateWebhook {
            webhook_id: second.webhook_id.clone(),
            status: Some(WebhookStatus::Active),
            events: Some(vec![created_event]),
            secret: Some("new".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        (updated.status, updated.events.clone(), updated.name.as_str()),
        (WebhookStatus::Active, vec![created_event], "audit")
    );
    assert_eq!(updated.secret.as_deref(), Some("new"));
    assert_eq!(store.list_webhooks_by_event(tag_event).await.unwrap().len(), 1);

    store.delete_webhook(&first.webhook_id).await.unwrap();
    let gone = store.get_webhook(&first.webhook_id).await.unwrap_err();
    assert_eq!(
        (gone.code, gone.message),
        (ErrorCode::ResourceDoesNotExist, format!("Webhook with ID {} not found.", first.webhook_id))
    );
    assert_eq!(store.delete_webhook(&first.webhook_id).await.unwrap_err().code, ErrorCode::ResourceDoesNotExist);
    assert_eq!(store.list_webhooks(100, None).await.unwrap().items.len(), 1);
    assert_eq!(store.list_webhooks_by_event(created_event).await.unwrap().len(), 1);
    let missing = store.update_webhook(UpdateWebhook { webhook_id: "nope".into(), ..Default::default() }).await;
    assert_eq!(missing.unwrap_err().code, ErrorCode::ResourceDoesNotExist);
}

/// The webhook outbox: claims are exclusive while leased, expire, and count attempts; a
/// rescheduled delivery comes back when due; a finished one is gone.
pub async fn webhook_outbox_claims_are_exclusive_and_leased<S: Store>(store: &S) {
    use crate::registry::OutboxDelivery;
    let event = WebhookEvent::new(WebhookEntity::ModelVersion, WebhookAction::Created).unwrap();
    let webhook = store
        .create_webhook(CreateWebhook {
            name: "ci".into(),
            url: "https://ci.example.com/hook".into(),
            events: vec![event],
            description: None,
            secret: None,
            status: WebhookStatus::Active,
        })
        .await
        .unwrap();
    let delivery = |n: usize| OutboxDelivery {
        delivery_id: format!("d{n}"),
        webhook_id: webhook.webhook_id.clone(),
        body: format!("{{\"n\": {n}}}"),
        attempts: 0,
    };
    let queued: Vec<OutboxDelivery> = (0..6).map(delivery).collect();
    store.enqueue_webhook_deliveries(queued.clone(), 1_000).await.unwrap();
    // Queuing the same delivery again changes nothing.
    store.enqueue_webhook_deliveries(vec![delivery(0)], 1_000).await.unwrap();

    // Nothing is due before it was queued.
    assert!(store.claim_webhook_deliveries(999, 5_000, 10).await.unwrap().is_empty());
    // Concurrent claimers share the deliveries out: none twice, none lost.
    let claims = [2, 2, 10].map(|max| store.claim_webhook_deliveries(1_000, 5_000, max));
    let mut claimed: Vec<OutboxDelivery> =
        futures_join_all(claims).await.into_iter().flat_map(|claim| claim.unwrap()).collect();
    claimed.sort_by(|x, y| x.delivery_id.cmp(&y.delivery_id));
    let expected: Vec<OutboxDelivery> = queued.iter().map(|d| OutboxDelivery { attempts: 1, ..d.clone() }).collect();
    assert_eq!(claimed, expected);
    // Leased: nothing to claim until the lease ends.
    assert!(store.claim_webhook_deliveries(4_999, 9_000, 10).await.unwrap().is_empty());

    store.finish_webhook_delivery("d0").await.unwrap();
    store.reschedule_webhook_delivery("d1", 2_000).await.unwrap();
    let retried = store.claim_webhook_deliveries(2_000, 9_000, 10).await.unwrap();
    assert_eq!(retried, vec![OutboxDelivery { attempts: 2, ..delivery(1) }]);
    // Past the lease (a replica that died mid-delivery), the rest come back, oldest first.
    let expired = store.claim_webhook_deliveries(5_000, 9_000, 10).await.unwrap();
    let ids: Vec<&str> = expired.iter().map(|d| d.delivery_id.as_str()).collect();
    assert_eq!(ids, ["d2", "d3", "d4", "d5"]);
    assert!(expired.iter().all(|d| d.attempts == 2));
    for id in ["d1", "d2", "d3", "d4", "d5"] {
        store.finish_webhook_delivery(id).await.unwrap();
    }
    assert!(store.claim_webhook_deliveries(i64::MAX, i64::MAX, 10).await.unwrap().is_empty());
}
