//! Table `scan_ports`: A port seen (or expected) on an address.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "scan_ports")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub scan_id: i32,
    pub ip_id: i32,
    pub port: i32,
    pub protocol: String,
    pub state: String,
    pub reason: Option<String>,
    pub expected: bool,
    /// Open although the config declared this address's ports and not this one.
    pub unexpected: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    /// Expected by the config but not open (absent, closed or filtered): the one rule for
    /// "missing" in the API, the findings and the reports.
    pub fn is_missing(&self) -> bool {
        self.expected && self.state != "open"
    }
}
