//! Table `scan_services`: The service detected on a port, with HTTP probe results.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "scan_services")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub scan_id: i32,
    pub port_id: i32,
    pub name: Option<String>,
    pub product: Option<String>,
    pub version: Option<String>,
    pub extra_info: Option<String>,
    pub tunnel: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub cpe: Option<String>,
    pub http_status: Option<i32>,
    #[sea_orm(column_type = "Text")]
    pub http_title: Option<String>,
    pub http_server: Option<String>,
    /// Path of the page's screenshot, relative to the data dir.
    pub screenshot_path: Option<String>,
    /// `Location` of a redirect answer.
    #[sea_orm(column_type = "Text")]
    pub http_location: Option<String>,
    pub http_response_ms: Option<i32>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
