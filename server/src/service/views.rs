//! Saved views (issue 15): a user's named filter for one list page. Each user sees and changes
//! only their own (a VIEWER too: a view changes nothing but their list); saving under a name
//! that exists on that page replaces its filter. The filter is checked for its page before it
//! is stored, so a saved view always opens.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, Set,
};

use entity::saved_view;

use crate::domain::auth::{Actor, Role};
use crate::error::{AppError, AppResult};
use crate::service::history::filter;

/// At most this many views per user.
pub const MAX_VIEWS: u64 = 100;
pub const MAX_NAME_CHARS: usize = 80;
pub const MAX_FILTER_CHARS: usize = 2000;

/// The list a view is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViewPage {
    Hosts,
    Changes,
    Certificates,
    Scans,
}

impl ViewPage {
    pub const ALL: [ViewPage; 4] = [
        ViewPage::Hosts,
        ViewPage::Changes,
        ViewPage::Certificates,
        ViewPage::Scans,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ViewPage::Hosts => "hosts",
            ViewPage::Changes => "changes",
            ViewPage::Certificates => "certificates",
            ViewPage::Scans => "scans",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// Checks `text` as a filter of this page's list (VALIDATION with its column).
    fn check(self, db: &DatabaseConnection, text: &str) -> AppResult<()> {
        let (backend, now) = (db.get_database_backend(), Utc::now());
        let text = Some(text);
        match self {
            ViewPage::Hosts => filter::hosts(text, backend, now),
            ViewPage::Changes => filter::changes(text, backend, now),
            ViewPage::Certificates => filter::certificates(text, backend, now),
            ViewPage::Scans => filter::scans(text, backend, now),
        }
        .map(drop)
    }
}

/// A view to save.
#[derive(Debug, Clone)]
pub struct ViewInput {
    pub page: ViewPage,
    pub name: String,
    pub filter: String,
}

fn user_of(actor: &Actor) -> AppResult<i32> {
    actor.require(Role::Viewer)?;
    actor
        .user_id
        .ok_or_else(|| AppError::Forbidden("saved views belong to a user".into()))
}

/// The actor's views (of one page, or all), by page and name.
pub async fn list(
    db: &DatabaseConnection,
    actor: &Actor,
    page: Option<ViewPage>,
) -> AppResult<Vec<saved_view::Model>> {
    let user = user_of(actor)?;
    let mut q = saved_view::Entity::find().filter(saved_view::Column::UserId.eq(user));
    if let Some(page) = page {
        q = q.filter(saved_view::Column::Page.eq(page.as_str()));
    }
    Ok(q.order_by_asc(saved_view::Column::Page)
        .order_by_asc(saved_view::Column::Name)
        .all(db)
        .await?)
}

/// Saves a view: a new name adds one, a name the page has replaces its filter.
pub async fn save(
    db: &DatabaseConnection,
    actor: &Actor,
    input: ViewInput,
) -> AppResult<saved_view::Model> {
    let user = user_of(actor)?;
    let name = input.name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(AppError::validation(format!(
            "a view's name is 1 to {MAX_NAME_CHARS} characters"
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(AppError::validation(
            "a view's name has no control characters",
        ));
    }
    let text = input.filter.trim();
    if text.chars().count() > MAX_FILTER_CHARS {
        return Err(AppError::validation(format!(
            "a filter is at most {MAX_FILTER_CHARS} characters"
        )));
    }
    input.page.check(db, text)?;
    let now = Utc::now();
    let mine = saved_view::Entity::find()
        .filter(saved_view::Column::UserId.eq(user))
        .filter(saved_view::Column::Page.eq(input.page.as_str()));
    if let Some(existing) = mine
        .clone()
        .filter(saved_view::Column::Name.eq(name))
        .one(db)
        .await?
    {
        let mut row: saved_view::ActiveModel = existing.into();
        row.filter = Set(text.to_owned());
        row.updated_at = Set(now);
        return Ok(row.update(db).await?);
    }
    if saved_view::Entity::find()
        .filter(saved_view::Column::UserId.eq(user))
        .count(db)
        .await?
        >= MAX_VIEWS
    {
        return Err(AppError::validation(format!(
            "at most {MAX_VIEWS} saved views per user; delete one first"
        )));
    }
    saved_view::ActiveModel {
        user_id: Set(user),
        page: Set(input.page.as_str().to_owned()),
        name: Set(name.to_owned()),
        filter: Set(text.to_owned()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await
    .map_err(|e| match e.sql_err() {
        // Lost a race with another save of the same name.
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => {
            AppError::Conflict(format!("a view named {name:?} was just saved; save again"))
        }
        _ => e.into(),
    })
}

/// Deletes one of the actor's views (another user's is NOT_FOUND).
pub async fn delete(db: &DatabaseConnection, actor: &Actor, id: i32) -> AppResult<()> {
    let user = user_of(actor)?;
    let gone = saved_view::Entity::delete_many()
        .filter(saved_view::Column::Id.eq(id))
        .filter(saved_view::Column::UserId.eq(user))
        .exec(db)
        .await?
        .rows_affected;
    if gone == 0 {
        return Err(AppError::NotFound("saved view"));
    }
    Ok(())
}
