//! GraphQL for saved views (issue 15): `savedViews(page)`, `saveView(input)`,
//! `deleteSavedView(id)`. Thin over `service::views`; each user sees only their own.

use async_graphql::{Context, Enum, ID, InputObject, Object};
use chrono::{DateTime, Utc};

use entity::saved_view;

use crate::error::GqlResult;
use crate::graphql::context::{ContextExt, parse_id};
use crate::service::views::{self, ViewInput};

/// The list a saved view is for.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "views::ViewPage")]
pub enum ViewPage {
    Hosts,
    Changes,
    Certificates,
    Scans,
}

/// A named filter (the filter language) for one list page.
pub struct SavedView(pub saved_view::Model);

#[Object]
impl SavedView {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn page(&self) -> Option<ViewPage> {
        views::ViewPage::parse(&self.0.page).map(Into::into)
    }
    async fn filter(&self) -> &str {
        &self.0.filter
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

#[derive(InputObject)]
pub struct SavedViewInput {
    pub page: ViewPage,
    /// 1 to 80 characters; saving under a name the page has replaces its filter.
    pub name: String,
    /// The filter language; checked for the page (VALIDATION with its column).
    pub filter: String,
}

#[derive(Default)]
pub struct ViewQuery;

#[Object]
impl ViewQuery {
    /// Your saved views (of one page, or all), by page and name.
    async fn saved_views(
        &self,
        ctx: &Context<'_>,
        page: Option<ViewPage>,
    ) -> GqlResult<Vec<SavedView>> {
        let rows = views::list(ctx.db(), ctx.actor()?, page.map(Into::into)).await?;
        Ok(rows.into_iter().map(SavedView).collect())
    }
}

#[derive(Default)]
pub struct ViewMutation;

#[Object]
impl ViewMutation {
    /// Saves a view of yours (any role).
    async fn save_view(&self, ctx: &Context<'_>, input: SavedViewInput) -> GqlResult<SavedView> {
        let row = views::save(
            ctx.db(),
            ctx.actor()?,
            ViewInput {
                page: input.page.into(),
                name: input.name,
                filter: input.filter,
            },
        )
        .await?;
        Ok(SavedView(row))
    }

    /// Deletes a view of yours.
    async fn delete_saved_view(&self, ctx: &Context<'_>, id: ID) -> GqlResult<bool> {
        views::delete(ctx.db(), ctx.actor()?, parse_id(&id, "saved view")?).await?;
        Ok(true)
    }
}
