//! The projects a caller may see. Every read of project data takes one, so no query can
//! forget authorization: an admin sees all, a member only the projects they belong to.

use agentq_domain::ProjectId;
use sea_orm::ColumnTrait;
use sea_orm::sea_query::{Condition, Expr};

use crate::shapes::padded_to_power_of_two;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    All,
    Projects(Vec<ProjectId>),
}

impl Scope {
    pub fn allows(&self, project: ProjectId) -> bool {
        match self {
            Self::All => true,
            Self::Projects(ids) => ids.contains(&project),
        }
    }

    /// `column IN (visible projects)`; always false for a member of no project.
    pub(crate) fn condition(&self, column: impl ColumnTrait) -> Condition {
        match self {
            Self::All => Condition::all(),
            Self::Projects(ids) if ids.is_empty() => Condition::all().add(Expr::cust("1 = 0")),
            // padded: one statement shape per power of two, not per project count (shapes.rs)
            Self::Projects(ids) => Condition::all().add(column.is_in(padded_to_power_of_two(
                ids.iter().map(|id| id.get()).collect(),
            ))),
        }
    }
}
