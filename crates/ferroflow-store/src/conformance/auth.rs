//! Users, grants and credentials behave alike on every backend.

use ferroflow_core::auth::Permission;
use ferroflow_core::ErrorCode;

use crate::auth::{Credential, CredentialKind, ExperimentOf, Grant, GrantWrite, Resource};
use crate::logged_models::CreateLoggedModel;
use crate::registry::{CreateRegisteredModel, RegistrySearch};
use crate::{CreateExperiment, CreateRun, SearchExperiments, Store};
use ferroflow_core::auth::Visibility;
use ferroflow_core::types::ViewType;

/// The auth cases, for [`conformance_suite!`](crate::conformance_suite).
#[macro_export]
macro_rules! auth_conformance_cases {
    ($make:expr) => {
        $crate::conformance_cases!($make; auth;
            users_are_unique_and_updatable,
            grants_follow_their_write_mode,
            deleting_a_user_removes_its_grants_and_credentials,
            credentials_expire_and_revoke,
            experiment_of_finds_the_owner,
            listings_show_only_what_is_visible,
        );
    };
}

pub async fn users_are_unique_and_updatable<S: Store>(store: &S) {
    let alice = store.create_user("alice", "hash-1", false).await.unwrap();
    assert_eq!((alice.username.as_str(), alice.is_admin), ("alice", false));
    let error = store.create_user("alice", "hash-2", true).await.unwrap_err();
    assert_eq!(error.code, ErrorCode::ResourceAlreadyExists);
    assert!(!error.message.contains("hash-2"), "no secret in an error: {}", error.message);
    let bob = store.create_user("bob", "hash-b", true).await.unwrap();
    assert_ne!(alice.id, bob.id);
    assert_eq!(store.count_admins().await.unwrap(), 1);

    assert!(store.update_user("alice", Some("hash-3"), Some(true)).await.unwrap());
    let alice = store.get_user("alice").await.unwrap().unwrap();
    assert_eq!((alice.password_hash.as_str(), alice.is_admin), ("hash-3", true));
    assert!(store.update_user("alice", None, Some(false)).await.unwrap());
    assert_eq!(store.get_user("alice").await.unwrap().unwrap().password_hash, "hash-3");
    assert!(!store.update_user("nobody", Some("x"), None).await.unwrap());
    assert!(store.get_user("nobody").await.unwrap().is_none());
    // Names are exact: no case folding.
    assert!(store.get_user("Alice").await.unwrap().is_none());
    let names: Vec<String> = store.list_users().await.unwrap().into_iter().map(|u| u.username).collect();
    assert_eq!(names, ["alice", "bob"]);
}

pub async fn grants_follow_their_write_mode<S: Store>(store: &S) {
    let user = store.create_user("carol", "h", false).await.unwrap();
    let on_one = Resource::Experiment("1".into());
    let grant = |permission| Grant { user_id: user.id, resource: on_one.clone(), permission };
    assert!(!store.put_grant(grant(Permission::Edit), GrantWrite::Update).await.unwrap());
    assert!(store.put_grant(grant(Permission::Read), GrantWrite::Create).await.unwrap());
    assert!(!store.put_grant(grant(Permission::Manage), GrantWrite::Create).await.unwrap());
    assert_eq!(store.get_grant(user.id, &on_one).await.unwrap(), Some(Permission::Read));
    assert!(store.put_grant(grant(Permission::Edit), GrantWrite::Update).await.unwrap());
    assert!(store.put_grant(grant(Permission::Use), GrantWrite::Upsert).await.unwrap());
    assert_eq!(store.get_grant(user.id, &on_one).await.unwrap(), Some(Permission::Use));

    // The same key on another kind of resource is another grant.
    let model = Resource::RegisteredModel("1".into());
    assert_eq!(store.get_grant(user.id, &model).await.unwrap(), None);
    let model_grant = Grant { user_id: user.id, resource: model.clone(), permission: Permission::Manage };
    store.put_grant(model_grant, GrantWrite::Create).await.unwrap();
    let mut grants = store.user_grants(user.id).await.unwrap();
    grants.sort_by(|a, b| a.resource.kind().cmp(b.resource.kind()));
    assert_eq!(grants.len(), 2);
    assert_eq!((grants[0].resource.clone(), grants[0].permission), (on_one.clone(), Permission::Use));

    store.rename_model_grants("1", "renamed").await.unwrap();
    assert_eq!(store.get_grant(user.id, &model).await.unwrap(), None);
    let renamed = Resource::RegisteredModel("renamed".into());
    assert_eq!(store.get_grant(user.id, &renamed).await.unwrap(), Some(Permission::Manage));
    store.delete_resource_grants(&renamed).await.unwrap();
    assert_eq!(store.get_grant(user.id, &renamed).await.unwrap(), None);

    assert!(store.delete_grant(user.id, &on_one).await.unwrap());
    assert!(!store.delete_grant(user.id, &on_one).await.unwrap());
    assert!(store.user_grants(user.id).await.unwrap().is_empty());
}

fn credential(id: &str, user_id: i64, kind: CredentialKind, expires_at: Option<i64>) -> Credential {
    Credential {
        id: id.into(),
        user_id,
        kind,
        name: format!("{id} name"),
        secret_hash: format!("{id}-secret-hash"),
        created_at: 1_000,
        expires_at,
    }
}

pub async fn deleting_a_user_removes_its_grants_and_credentials<S: Store>(store: &S) {
    let user = store.create_user("dave", "h", false).await.unwrap();
    let grant = Grant { user_id: user.id, resource: Resource::Experiment("0".into()), permission: Permission::Read };
    store.put_grant(grant, GrantWrite::Create).await.unwrap();
    store.create_credential(credential("t1", user.id, CredentialKind::Token, None)).await.unwrap();
    assert!(store.delete_user("dave").await.unwrap());
    assert!(!store.delete_user("dave").await.unwrap());
    assert!(store.credential_user("t1-secret-hash", 0).await.unwrap().is_none());
    // A new user of the same name inherits nothing.
    let again = store.create_user("dave", "h", false).await.unwrap();
    assert!(store.user_grants(again.id).await.unwrap().is_empty());
    assert!(store.list_credentials(again.id, CredentialKind::Token).await.unwrap().is_empty());
}

pub async fn credentials_expire_and_revoke<S: Store>(store: &S) {
    let user = store.create_user("erin", "h", false).await.unwrap();
    let other = store.create_user("frank", "h", false).await.unwrap();
    store.create_credential(credential("forever", user.id, CredentialKind::Token, None)).await.unwrap();
    store.create_credential(credential("brief", user.id, CredentialKind::Token, Some(5_000))).await.unwrap();
    store.create_credential(credential("login", user.id, CredentialKind::Session, Some(9_000))).await.unwrap();

    let (found, owner) = store.credential_user("brief-secret-hash", 4_999).await.unwrap().unwrap();
    assert_eq!((found.id.as_str(), found.expires_at, owner.username.as_str()), ("brief", Some(5_000), "erin"));
    assert!(store.credential_user("brief-secret-hash", 5_000).await.unwrap().is_none(), "expired");
    assert!(store.credential_user("forever-secret-hash", i64::MAX).await.unwrap().is_some());
    assert!(store.credential_user("no-such-hash", 0).await.unwrap().is_none());

    let tokens = store.list_credentials(user.id, CredentialKind::Token).await.unwrap();
    let mut ids: Vec<&str> = tokens.iter().map(|c| c.id.as_str()).collect();
    ids.sort();
    assert_eq!(ids, ["brief", "forever"]);
    assert_eq!(store.list_credentials(user.id, CredentialKind::Session).await.unwrap().len(), 1);

    // Only the owner's id revokes it.
    assert!(!store.delete_credential(other.id, "forever").await.unwrap());
    assert!(store.delete_credential(user.id, "forever").await.unwrap());
    assert!(store.credential_user("forever-secret-hash", 0).await.unwrap().is_none());
    // Secrets are unique: a second credential with the same hash is refused.
    let clash = Credential { id: "clash".into(), ..credential("login", user.id, CredentialKind::Token, None) };
    assert!(store.create_credential(clash).await.is_err());
}

pub async fn experiment_of_finds_the_owner<S: Store>(store: &S) {
    let request = CreateExperiment { name: "owned".into(), ..Default::default() };
    let experiment_id = store.create_experiment(request).await.unwrap();
    let run = CreateRun { experiment_id: Some(experiment_id.clone()), ..Default::default() };
    let run_id = store.create_run(run).await.unwrap().info.run_id;
    let model = CreateLoggedModel { experiment_id: experiment_id.clone(), ..Default::default() };
    let model_id = store.create_logged_model(model).await.unwrap().info.model_id;

    let expected = Some(experiment_id.clone());
    assert_eq!(store.experiment_of(&ExperimentOf::Run(run_id)).await.unwrap(), expected);
    assert_eq!(store.experiment_of(&ExperimentOf::LoggedModel(model_id)).await.unwrap(), expected);
    assert_eq!(store.experiment_of(&ExperimentOf::ExperimentName("owned".into())).await.unwrap(), expected);
    for missing in [
        ExperimentOf::Run("0123456789abcdef0123456789abcdef".into()),
        ExperimentOf::LoggedModel("m-missing".into()),
        ExperimentOf::ExperimentName("nope".into()),
        ExperimentOf::Run("not an id'; --".into()),
    ] {
        assert_eq!(store.experiment_of(&missing).await.unwrap(), None, "{missing:?}");
    }
}

pub async fn listings_show_only_what_is_visible<S: Store>(store: &S) {
    let mut ids = Vec::new();
    for name in ["seen-1", "hidden", "seen-2"] {
        ids.push(store.create_experiment(CreateExperiment { name: name.into(), ..Default::default() }).await.unwrap());
        store.create_registered_model(CreateRegisteredModel { name: name.into(), ..Default::default() }).await.unwrap();
    }
    let hidden: std::collections::HashSet<String> = [ids[1].clone()].into();
    // Pages of one stay correct: the hidden experiment is skipped, not counted.
    let mut names = Vec::new();
    let mut token = None;
    loop {
        let request = SearchExperiments {
            filter: None,
            order_by: vec!["name ASC".into()],
            view_type: ViewType::ActiveOnly,
            max_results: 1,
            page_token: token,
            visible: Some(Visibility::AllExcept(hidden.clone())),
        };
        let page = store.search_experiments(request).await.unwrap();
        names.extend(page.items.into_iter().map(|e| e.name));
        token = page.next_page_token;
        if token.is_none() {
            break;
        }
    }
    assert_eq!(names, ["Default", "seen-1", "seen-2"]);

    let only: std::collections::HashSet<String> = ["hidden".to_string()].into();
    let models = |visible| RegistrySearch { max_results: 10, visible, ..Default::default() };
    let page = store.search_registered_models(models(Some(Visibility::Only(only.clone())))).await.unwrap();
    assert_eq!(page.items.iter().map(|m| m.name.as_str()).collect::<Vec<_>>(), ["hidden"]);
    assert_eq!(store.search_registered_models(models(None)).await.unwrap().items.len(), 3);
}
