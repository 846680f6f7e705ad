//! Relay connection types (`edges { cursor node }`, `pageInfo`, `totalCount`).

use async_graphql::SimpleObject;

#[derive(SimpleObject)]
pub struct PageInfo {
    pub has_next_page: bool,
    pub end_cursor: Option<String>,
}

/// Declares `<Name>Connection` and `<Name>Edge` for a node type.
macro_rules! connection {
    ($conn:ident, $edge:ident, $node:ty) => {
        #[derive(async_graphql::SimpleObject)]
        pub struct $edge {
            pub cursor: String,
            pub node: $node,
        }

        #[derive(async_graphql::SimpleObject)]
        pub struct $conn {
            pub edges: Vec<$edge>,
            pub page_info: $crate::graphql::connection::PageInfo,
            pub total_count: u64,
        }

        impl $conn {
            pub fn from_page<T>(
                page: $crate::service::pagination::Page<T>,
                id: impl Fn(&T) -> i32,
                wrap: impl Fn(T) -> $node,
            ) -> Self {
                let edges: Vec<$edge> = page
                    .items
                    .into_iter()
                    .map(|item| $edge {
                        cursor: $crate::service::pagination::encode_cursor(id(&item)),
                        node: wrap(item),
                    })
                    .collect();
                let end_cursor = edges.last().map(|e| e.cursor.clone());
                Self {
                    edges,
                    page_info: $crate::graphql::connection::PageInfo {
                        has_next_page: page.has_next_page,
                        end_cursor,
                    },
                    total_count: page.total_count,
                }
            }
        }
    };
}

pub(crate) use connection;
