//! GraphQL for scan configs.

use crate::error::GqlResult;
use std::sync::OnceLock;

use async_graphql::{Context, ID, InputObject, Object};
use chrono::{DateTime, Utc};

use crate::domain::config as yaml;
use crate::graphql::connection::connection;
use crate::graphql::context::{ContextExt, parse_id};
use crate::service::configs;
use crate::service::pagination::PageRequest;

pub struct ScanConfig {
    row: entity::scan_config::Model,
    /// The YAML parsed at most once per object, only if a parsed field is asked for.
    parsed: OnceLock<Option<yaml::ScanConfig>>,
}

impl ScanConfig {
    pub fn new(row: entity::scan_config::Model) -> Self {
        Self {
            row,
            parsed: OnceLock::new(),
        }
    }

    fn parsed(&self) -> Option<&yaml::ScanConfig> {
        self.parsed
            .get_or_init(|| yaml::parse(&self.row.yaml).ok())
            .as_ref()
    }
}

#[Object]
impl ScanConfig {
    async fn id(&self) -> ID {
        ID(self.row.id.to_string())
    }
    async fn title(&self) -> &str {
        &self.row.title
    }
    /// The YAML source, as written.
    async fn yaml(&self) -> &str {
        &self.row.yaml
    }
    /// Site names, in order.
    async fn site_names(&self) -> Vec<String> {
        self.parsed()
            .map(|c| c.sites.iter().map(|s| s.name.clone()).collect())
            .unwrap_or_default()
    }
    /// How many addresses the config targets.
    async fn address_count(&self) -> u64 {
        self.parsed()
            .map(|c| u64::try_from(c.address_count()).unwrap_or(u64::MAX))
            .unwrap_or(0)
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.row.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.row.updated_at
    }
}

connection!(ScanConfigConnection, ScanConfigEdge, ScanConfig);

#[derive(InputObject)]
pub struct ScanConfigInput {
    /// The config in YAML (see the README for the format).
    pub yaml: String,
}

#[derive(Default)]
pub struct ConfigQuery;

#[Object]
impl ConfigQuery {
    /// Scan configs, newest first.
    async fn scan_configs(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> GqlResult<ScanConfigConnection> {
        let page = PageRequest::parse(first, after.as_deref())?;
        let page = configs::list(ctx.db(), ctx.actor()?, page).await?;
        Ok(ScanConfigConnection::from_page(
            page,
            |c| c.id,
            ScanConfig::new,
        ))
    }

    async fn scan_config(&self, ctx: &Context<'_>, id: ID) -> GqlResult<Option<ScanConfig>> {
        let actor = ctx.actor()?;
        let Ok(id) = parse_id(&id, "scan config") else {
            return Ok(None);
        };
        match configs::get(ctx.db(), actor, id).await {
            Ok(c) => Ok(Some(ScanConfig::new(c))),
            Err(crate::error::AppError::NotFound(_)) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}

#[derive(Default)]
pub struct ConfigMutation;

#[Object]
impl ConfigMutation {
    /// Creates a config (OPERATOR). Invalid YAML is `VALIDATION` with `line` and `column`.
    async fn create_scan_config(
        &self,
        ctx: &Context<'_>,
        input: ScanConfigInput,
    ) -> GqlResult<ScanConfig> {
        Ok(ScanConfig::new(
            configs::create(ctx.db(), ctx.actor()?, &input.yaml).await?,
        ))
    }

    async fn update_scan_config(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: ScanConfigInput,
    ) -> GqlResult<ScanConfig> {
        let id = parse_id(&id, "scan config")?;
        Ok(ScanConfig::new(
            configs::update(ctx.db(), ctx.actor()?, id, &input.yaml).await?,
        ))
    }

    async fn delete_scan_config(&self, ctx: &Context<'_>, id: ID) -> GqlResult<bool> {
        configs::delete(ctx.db(), ctx.actor()?, parse_id(&id, "scan config")?).await?;
        Ok(true)
    }

    /// Checks a config without saving it. Returns the parsed title.
    async fn validate_scan_config(
        &self,
        ctx: &Context<'_>,
        input: ScanConfigInput,
    ) -> GqlResult<String> {
        ctx.actor()?;
        Ok(yaml::parse(&input.yaml)?.title)
    }
}
