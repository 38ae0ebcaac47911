//! Value types of the domain: enums stored as text, and the checks of formatted text fields
//! (used by the API's validation, so each violation names its field).
//!
//! The enums are column types of their own (as crates.io's `pg_enum!` and vaultwarden's
//! text macro make them): a row reads `kind: EventKind`, and a stored text the code does not
//! know fails the read with an error naming it, instead of showing as some other value.

use std::str::FromStr;

/// Declares an enum with its wire/database names (snake_case unless a serde case is given
/// after the name, e.g. `"kebab-case"`), `as_str`, `FromStr`, an OpenAPI schema of its own,
/// and its diesel mapping to a `Text` column on every backend.
macro_rules! text_enum {
    ($(#[$doc:meta])* $name:ident { $($body:tt)* }) => {
        text_enum!($(#[$doc])* $name "snake_case" { $($body)* });
    };
    ($(#[$doc:meta])* $name:ident $case:tt { $($(#[$vdoc:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        // `rename_all` (not a rename per variant): utoipa reads it for the schema's enum values.
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
            utoipa::ToSchema, diesel::AsExpression, diesel::FromSqlRow,
        )]
        #[serde(rename_all = $case)]
        #[diesel(sql_type = diesel::sql_types::Text)]
        pub enum $name {
            $($(#[$vdoc])* $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl FromStr for $name {
            type Err = String;

            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err(format!("unknown {} {other:?}", stringify!($name))),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl<DB> diesel::serialize::ToSql<diesel::sql_types::Text, DB> for $name
        where
            DB: diesel::backend::Backend,
            str: diesel::serialize::ToSql<diesel::sql_types::Text, DB>,
        {
            fn to_sql<'b>(
                &'b self,
                out: &mut diesel::serialize::Output<'b, '_, DB>,
            ) -> diesel::serialize::Result {
                <str as diesel::serialize::ToSql<diesel::sql_types::Text, DB>>::to_sql(self.as_str(), out)
            }
        }

        impl<DB> diesel::deserialize::FromSql<diesel::sql_types::Text, DB> for $name
        where
            DB: diesel::backend::Backend,
            String: diesel::deserialize::FromSql<diesel::sql_types::Text, DB>,
        {
            fn from_sql(bytes: DB::RawValue<'_>) -> diesel::deserialize::Result<Self> {
                let text =
                    <String as diesel::deserialize::FromSql<diesel::sql_types::Text, DB>>::from_sql(bytes)?;
                Ok(text.parse::<$name>()?)
            }
        }
    };
}

text_enum!(
    /// What a person or machine client may do.
    Role {
        /// Everything, including users, clients and deletes.
        Admin = "admin",
        /// Create, update and delete all domain resources (sponsor staff).
        Editor = "editor",
        /// Read all; create companies and events; change only its own organization's records.
        Partner = "partner",
        /// Read only.
        Viewer = "viewer",
    }
);

text_enum!(
    /// A collection of domain records, named as in its URL (`/api/v1/funding-sources`).
    ResourceKind "kebab-case" {
        Regions = "regions",
        Topics = "topics",
        FundingSources = "funding-sources",
        Organizations = "organizations",
        Projects = "projects",
        Companies = "companies",
        Events = "events",
    }
);

text_enum!(
    /// What a change did to a record.
    ChangeAction {
        Create = "create",
        Update = "update",
        Delete = "delete",
    }
);

text_enum!(
    /// What a skilled-labour topic is about.
    TopicCategory {
        Recruitment = "recruitment",
        ApprenticeMarketing = "apprentice_marketing",
        Retention = "retention",
        Qualification = "qualification",
        EmployerAttractiveness = "employer_attractiveness",
        Other = "other",
    }
);

text_enum!(
    /// Who a funding source is.
    FundingKind {
        Eu = "eu",
        Federal = "federal",
        State = "state",
        District = "district",
        Municipality = "municipality",
        Private = "private",
        Other = "other",
    }
);

text_enum!(
    /// What kind of organization.
    OrganizationKind {
        Sponsor = "sponsor",
        ChamberOfCrafts = "chamber_of_crafts",
        ChamberOfCommerce = "chamber_of_commerce",
        EconomicDevelopment = "economic_development",
        Municipality = "municipality",
        Ministry = "ministry",
        Consultancy = "consultancy",
        Association = "association",
        Other = "other",
    }
);

text_enum!(
    /// Where a project stands.
    ProjectStatus {
        Planned = "planned",
        Active = "active",
        Completed = "completed",
        Cancelled = "cancelled",
    }
);

text_enum!(
    /// How a funding source pays for a project.
    FundingRole {
        Funding = "funding",
        CoFinancing = "co_financing",
    }
);

text_enum!(
    /// What kind of event.
    EventKind {
        Kickoff = "kickoff",
        NeedsAssessment = "needs_assessment",
        NeighbourhoodMeeting = "neighbourhood_meeting",
        CompanyWorkshop = "company_workshop",
        InformationSession = "information_session",
        ClosingEvent = "closing_event",
        Other = "other",
    }
);

text_enum!(
    /// How an event takes place.
    EventFormat {
        InPerson = "in_person",
        Online = "online",
        Hybrid = "hybrid",
    }
);

fn invalid(code: &'static str, message: &'static str) -> validator::ValidationError {
    let mut error = validator::ValidationError::new(code);
    error.message = Some(message.into());
    error
}

/// A German postal code: exactly five digits.
pub fn postal_code(value: &str) -> Result<(), validator::ValidationError> {
    if value.len() == 5 && value.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(invalid(
            "pattern",
            "must be a German postal code of five digits",
        ))
    }
}

/// A topic key: a slug of lower-case letters, digits and underscores.
pub fn slug(value: &str) -> Result<(), validator::ValidationError> {
    if !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        Ok(())
    } else {
        Err(invalid("pattern", "must match [a-z0-9_]+"))
    }
}

/// A web address: an absolute http(s) URL.
pub fn web_url(value: &str) -> Result<(), validator::ValidationError> {
    let ok = (value.starts_with("https://") || value.starts_with("http://"))
        && validator::ValidateUrl::validate_url(&value);
    if ok {
        Ok(())
    } else {
        Err(invalid("url", "must be an http(s) URL"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postal_codes_are_five_digits() {
        assert!(postal_code("38350").is_ok());
        for bad in ["3835", "383500", "3835a", " 38350", "", "３８３５０"] {
            assert!(postal_code(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn slugs_and_urls() {
        assert!(slug("apprentice_marketing").is_ok());
        assert!(slug("Apprentice").is_err());
        assert!(slug("a-b").is_err());
        assert!(web_url("https://www.allianz-fuer-die-region.de").is_ok());
        assert!(web_url("ftp://x.de").is_err());
        assert!(web_url("not a url").is_err());
    }

    /// The wire name (serde), the stored name (`as_str`) and the documented name (the
    /// OpenAPI schema) of every value are one and the same.
    fn names_agree<T>(all: &[T], as_str: fn(T) -> &'static str)
    where
        T: Copy
            + serde::Serialize
            + std::str::FromStr
            + PartialEq
            + std::fmt::Debug
            + utoipa::PartialSchema,
    {
        let schema = serde_json::to_value(T::schema()).unwrap();
        let documented: Vec<String> = schema["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect();
        let names: Vec<String> = all.iter().map(|v| as_str(*v).to_owned()).collect();
        assert_eq!(documented, names);
        for value in all {
            assert_eq!(serde_json::to_value(value).unwrap(), as_str(*value));
            assert!(as_str(*value).parse::<T>().ok() == Some(*value));
        }
    }

    #[test]
    fn enum_names_agree_on_the_wire_in_storage_and_in_the_document() {
        names_agree(TopicCategory::ALL, TopicCategory::as_str);
        names_agree(FundingKind::ALL, FundingKind::as_str);
        names_agree(OrganizationKind::ALL, OrganizationKind::as_str);
        names_agree(ProjectStatus::ALL, ProjectStatus::as_str);
        names_agree(FundingRole::ALL, FundingRole::as_str);
        names_agree(EventKind::ALL, EventKind::as_str);
        names_agree(EventFormat::ALL, EventFormat::as_str);
        names_agree(Role::ALL, Role::as_str);
        names_agree(ResourceKind::ALL, ResourceKind::as_str);
        names_agree(ChangeAction::ALL, ChangeAction::as_str);
    }
}
