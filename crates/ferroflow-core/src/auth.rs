//! Permissions as MLflow's basic-auth app defines them: five levels, each a set of
//! capabilities, and which experiments or models a caller may see in a listing.

use std::collections::HashSet;

use crate::{Error, Result};

/// A user's level on one experiment or registered model (MLflow's `permissions.py`).
/// Ordered: each level can do everything the one below it can.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Permission {
    NoPermissions,
    Read,
    Use,
    Edit,
    Manage,
}

/// What a request does to the resource it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Read,
    Use,
    Update,
    Delete,
    Manage,
}

impl Permission {
    pub const ALL: [Permission; 5] =
        [Permission::NoPermissions, Permission::Read, Permission::Use, Permission::Edit, Permission::Manage];

    /// MLflow's name on the wire (`READ`, `NO_PERMISSIONS`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::NoPermissions => "NO_PERMISSIONS",
            Permission::Read => "READ",
            Permission::Use => "USE",
            Permission::Edit => "EDIT",
            Permission::Manage => "MANAGE",
        }
    }

    /// Parses MLflow's name, refusing anything else with MLflow's message.
    pub fn parse(name: &str) -> Result<Self> {
        Self::ALL.into_iter().find(|level| level.as_str() == name).ok_or_else(|| {
            Error::invalid_parameter(format!(
                "Invalid permission '{name}'. Valid permissions are: {}",
                Self::ALL.map(Permission::as_str).join(", ")
            ))
        })
    }

    /// Whether this level lets a caller do `action`.
    pub fn allows(self, action: Action) -> bool {
        let needed = match action {
            Action::Read => Permission::Read,
            Action::Use => Permission::Use,
            Action::Update => Permission::Edit,
            Action::Delete | Action::Manage => Permission::Manage,
        };
        self >= needed
    }
}

/// Which resources (experiment ids or registered-model names) a caller may read, for
/// filtering a listing inside the store so that its paging stays correct.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Visibility {
    /// Everything but these: the default permission reads, and these were set lower.
    AllExcept(HashSet<String>),
    /// Only these: the default permission does not read, and these were granted.
    Only(HashSet<String>),
}

impl Visibility {
    /// The visibility given a default level and a caller's explicit grants.
    pub fn from_grants<'a>(default: Permission, grants: impl IntoIterator<Item = (&'a str, Permission)>) -> Self {
        let grants = grants.into_iter();
        if default.allows(Action::Read) {
            Visibility::AllExcept(
                grants.filter(|(_, level)| !level.allows(Action::Read)).map(|(key, _)| key.to_string()).collect(),
            )
        } else {
            Visibility::Only(
                grants.filter(|(_, level)| level.allows(Action::Read)).map(|(key, _)| key.to_string()).collect(),
            )
        }
    }

    pub fn allows(&self, key: &str) -> bool {
        match self {
            Visibility::AllExcept(hidden) => !hidden.contains(key),
            Visibility::Only(shown) => shown.contains(key),
        }
    }
}

/// `key` is visible under an optional visibility (`None`: no restriction).
pub fn visible(visibility: Option<&Visibility>, key: &str) -> bool {
    visibility.is_none_or(|v| v.allows(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_level_allows_exactly_mlflows_capabilities() {
        use Action::*;
        let table = [
            (Permission::NoPermissions, [false, false, false, false, false]),
            (Permission::Read, [true, false, false, false, false]),
            (Permission::Use, [true, true, false, false, false]),
            (Permission::Edit, [true, true, true, false, false]),
            (Permission::Manage, [true, true, true, true, true]),
        ];
        for (level, expected) in table {
            let actual = [Read, Use, Update, Delete, Manage].map(|action| level.allows(action));
            assert_eq!(actual, expected, "{level:?}");
        }
    }

    #[test]
    fn names_round_trip_and_unknown_names_are_refused() {
        for level in Permission::ALL {
            assert_eq!(Permission::parse(level.as_str()).unwrap(), level);
        }
        let error = Permission::parse("OWNER").unwrap_err();
        assert_eq!(error.code, crate::ErrorCode::InvalidParameterValue);
        assert!(error.message.contains("READ, USE, EDIT, MANAGE"), "{}", error.message);
    }

    #[test]
    fn visibility_follows_the_default_and_the_grants() {
        let grants = [("1", Permission::NoPermissions), ("2", Permission::Read), ("3", Permission::Manage)];
        let open = Visibility::from_grants(Permission::Read, grants);
        assert!(!open.allows("1") && open.allows("2") && open.allows("3") && open.allows("4"));
        let closed = Visibility::from_grants(Permission::NoPermissions, grants);
        assert!(!closed.allows("1") && closed.allows("2") && closed.allows("3") && !closed.allows("4"));
        assert!(visible(None, "anything"));
    }
}
