//! The model registry: registered models, versions, aliases, tags and stages.

use reqwest::Method;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::{next_token, page_token_param, Client, KeyValue, ModelUri, ModelVersion, Page, RegisteredModel, Result};

#[derive(Deserialize)]
struct ModelAnswer {
    registered_model: RegisteredModel,
}

#[derive(Deserialize)]
struct VersionAnswer {
    model_version: ModelVersion,
}

#[derive(Deserialize)]
struct ModelsPage {
    #[serde(default)]
    registered_models: Vec<RegisteredModel>,
    next_page_token: Option<String>,
}

#[derive(Deserialize)]
struct VersionsPage {
    #[serde(default)]
    model_versions: Vec<ModelVersion>,
    next_page_token: Option<String>,
}

/// The query of a registry search page.
fn search_query(
    filter: Option<&str>,
    order_by: &[String],
    max_results: u32,
    page_token: Option<&str>,
) -> Vec<(&'static str, String)> {
    let mut query = vec![("max_results", max_results.to_string())];
    query.extend(filter.map(|f| ("filter", f.to_string())));
    query.extend(order_by.iter().map(|o| ("order_by", o.clone())));
    query.extend(page_token_param(page_token));
    query
}

impl Client {
    pub async fn get_registered_model(&self, name: &str) -> Result<RegisteredModel> {
        let answer: ModelAnswer =
            self.call(Method::GET, "registered-models/get", &[("name", name.into())], None).await?;
        Ok(answer.registered_model)
    }

    pub async fn create_registered_model(&self, name: &str, tags: &[KeyValue]) -> Result<RegisteredModel> {
        let body = json!({ "name": name, "tags": tags });
        let answer: ModelAnswer = self.call(Method::POST, "registered-models/create", &[], Some(body)).await?;
        Ok(answer.registered_model)
    }

    /// One page of `registered-models/search`.
    pub async fn search_registered_models(
        &self,
        filter: Option<&str>,
        order_by: &[String],
        max_results: u32,
        page_token: Option<&str>,
    ) -> Result<Page<RegisteredModel>> {
        let query = search_query(filter, order_by, max_results, page_token);
        let page: ModelsPage = self.call(Method::GET, "registered-models/search", &query, None).await?;
        Ok(Page { items: page.registered_models, next_page_token: next_token(page.next_page_token) })
    }

    /// Every registered model `filter` matches, up to `limit`.
    pub async fn search_registered_models_up_to(
        &self,
        filter: Option<&str>,
        order_by: &[String],
        limit: usize,
    ) -> Result<Vec<RegisteredModel>> {
        let mut models = Vec::new();
        let mut token = None;
        loop {
            let size = (limit - models.len()).clamp(1, 1000) as u32;
            let page = self.search_registered_models(filter, order_by, size, token.as_deref()).await?;
            models.extend(page.items);
            models.truncate(limit);
            match page.next_page_token {
                Some(next) if models.len() < limit => token = Some(next),
                _ => return Ok(models),
            }
        }
    }

    pub async fn set_registered_model_tag(&self, name: &str, key: &str, value: &str) -> Result<()> {
        let body = json!({ "name": name, "key": key, "value": value });
        let _: Value = self.call(Method::POST, "registered-models/set-tag", &[], Some(body)).await?;
        Ok(())
    }

    /// Registers `source` (e.g. `runs:/<run_id>/model`, or a logged model's artifact URI) as
    /// a new version of `name`.
    pub async fn create_model_version(
        &self,
        name: &str,
        source: &str,
        run_id: Option<&str>,
        model_id: Option<&str>,
        tags: &[KeyValue],
    ) -> Result<ModelVersion> {
        let mut body = json!({ "name": name, "source": source, "tags": tags });
        if let Some(run_id) = run_id {
            body["run_id"] = run_id.into();
        }
        if let Some(model_id) = model_id {
            body["model_id"] = model_id.into();
        }
        let answer: VersionAnswer = self.call(Method::POST, "model-versions/create", &[], Some(body)).await?;
        Ok(answer.model_version)
    }

    pub async fn get_model_version(&self, name: &str, version: &str) -> Result<ModelVersion> {
        let query = [("name", name.to_string()), ("version", version.to_string())];
        let answer: VersionAnswer = self.call(Method::GET, "model-versions/get", &query, None).await?;
        Ok(answer.model_version)
    }

    /// One page of `model-versions/search`.
    pub async fn search_model_versions(
        &self,
        filter: Option<&str>,
        order_by: &[String],
        max_results: u32,
        page_token: Option<&str>,
    ) -> Result<Page<ModelVersion>> {
        let query = search_query(filter, order_by, max_results, page_token);
        let page: VersionsPage = self.call(Method::GET, "model-versions/search", &query, None).await?;
        Ok(Page { items: page.model_versions, next_page_token: next_token(page.next_page_token) })
    }

    /// Every version of model `name`, newest first.
    pub async fn model_versions(&self, name: &str) -> Result<Vec<ModelVersion>> {
        let filter = format!("name = '{}'", name.replace('\'', "\\'"));
        let mut versions = Vec::new();
        let mut token = None;
        loop {
            let page = self.search_model_versions(Some(&filter), &[], 1000, token.as_deref()).await?;
            versions.extend(page.items);
            match page.next_page_token {
                Some(next) => token = Some(next),
                None => break,
            }
        }
        versions.sort_by_key(|v| std::cmp::Reverse(v.version.parse::<u64>().unwrap_or(0)));
        Ok(versions)
    }

    /// The newest version of `name` in each of `stages` (all stages when empty).
    pub async fn get_latest_versions(&self, name: &str, stages: &[&str]) -> Result<Vec<ModelVersion>> {
        #[derive(Deserialize)]
        struct Answer {
            #[serde(default)]
            model_versions: Vec<ModelVersion>,
        }
        let body = json!({ "name": name, "stages": stages });
        let answer: Answer = self.call(Method::POST, "registered-models/get-latest-versions", &[], Some(body)).await?;
        Ok(answer.model_versions)
    }

    pub async fn get_model_version_by_alias(&self, name: &str, alias: &str) -> Result<ModelVersion> {
        let query = [("name", name.to_string()), ("alias", alias.to_string())];
        let answer: VersionAnswer = self.call(Method::GET, "registered-models/alias", &query, None).await?;
        Ok(answer.model_version)
    }

    /// Points `alias` of model `name` at `version` (moving it if it pointed elsewhere).
    pub async fn set_alias(&self, name: &str, alias: &str, version: &str) -> Result<()> {
        let body = json!({ "name": name, "alias": alias, "version": version });
        let _: Value = self.call(Method::POST, "registered-models/alias", &[], Some(body)).await?;
        Ok(())
    }

    pub async fn delete_alias(&self, name: &str, alias: &str) -> Result<()> {
        let body = json!({ "name": name, "alias": alias });
        let _: Value = self.call(Method::DELETE, "registered-models/alias", &[], Some(body)).await?;
        Ok(())
    }

    pub async fn set_model_version_tag(&self, name: &str, version: &str, key: &str, value: &str) -> Result<()> {
        let body = json!({ "name": name, "version": version, "key": key, "value": value });
        let _: Value = self.call(Method::POST, "model-versions/set-tag", &[], Some(body)).await?;
        Ok(())
    }

    pub async fn delete_model_version_tag(&self, name: &str, version: &str, key: &str) -> Result<()> {
        let body = json!({ "name": name, "version": version, "key": key });
        let _: Value = self.call(Method::DELETE, "model-versions/delete-tag", &[], Some(body)).await?;
        Ok(())
    }

    /// Moves a version to `stage` (`None`, `Staging`, `Production`, `Archived`); with
    /// `archive_existing`, the versions already in that stage are archived.
    pub async fn transition_stage(
        &self,
        name: &str,
        version: &str,
        stage: &str,
        archive_existing: bool,
    ) -> Result<ModelVersion> {
        let body = json!({
            "name": name, "version": version, "stage": stage,
            "archive_existing_versions": archive_existing,
        });
        let answer: VersionAnswer = self.call(Method::POST, "model-versions/transition-stage", &[], Some(body)).await?;
        Ok(answer.model_version)
    }

    /// The version a `models:/` URI names; a stage (or `latest`) names its newest version.
    pub async fn resolve_model_uri(&self, uri: &ModelUri) -> Result<ModelVersion> {
        match uri {
            ModelUri::Version { name, version } => self.get_model_version(name, version).await,
            ModelUri::Alias { name, alias } => self.get_model_version_by_alias(name, alias).await,
            ModelUri::Stage { name, stage } => {
                let stages: Vec<&str> = if stage.eq_ignore_ascii_case("latest") { vec![] } else { vec![stage] };
                let newest = self
                    .get_latest_versions(name, &stages)
                    .await?
                    .into_iter()
                    .max_by_key(|v| v.version.parse::<u64>().unwrap_or(0));
                newest.ok_or_else(|| crate::Error::Api {
                    status: reqwest::StatusCode::NOT_FOUND,
                    error_code: "RESOURCE_DOES_NOT_EXIST".into(),
                    message: format!("no version of registered model '{name}' is in stage '{stage}'"),
                })
            }
        }
    }
}
