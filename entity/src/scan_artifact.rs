//! Table `scan_artifacts`: a file a run left behind (raw nmap XML per phase, gzip; a page
//! screenshot, PNG), by scan and name (`nmap/<phase>.xml`, `screenshots/<scan>/<file>.png`).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "scan_artifacts")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub scan_id: i32,
    pub name: String,
    pub content_type: String,
    /// `gzip` when `content` is compressed; the size is the stored one.
    pub content_encoding: Option<String>,
    pub size: i64,
    pub content: Vec<u8>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::scan::Entity",
        from = "Column::ScanId",
        to = "super::scan::Column::Id",
        on_delete = "Cascade"
    )]
    Scan,
}

impl Related<super::scan::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Scan.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
