//! Table `saved_views`: a user's named filter (the filter language) for one list page
//! (`hosts`, `changes`, `certificates`, `scans`). Unique on (user, page, name).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "saved_views")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub user_id: i32,
    pub page: String,
    pub name: String,
    #[sea_orm(column_type = "Text")]
    pub filter: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
