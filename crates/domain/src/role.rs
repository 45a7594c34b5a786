//! Who may see what in the admin area (PRODUCT.md §7): an operator sees every brand, a brand
//! admin and an analyst one brand (the analyst with personal data masked), an auditor the audit
//! log, a privacy officer one brand's data-subject requests and their register.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Operator,
    BrandAdmin,
    Analyst,
    Auditor,
    PrivacyOfficer,
}

impl Role {
    pub const ALL: [Role; 5] = [Role::Operator, Role::BrandAdmin, Role::Analyst, Role::Auditor, Role::PrivacyOfficer];

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == value)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Operator => "operator",
            Self::BrandAdmin => "brand_admin",
            Self::Analyst => "analyst",
            Self::Auditor => "auditor",
            Self::PrivacyOfficer => "privacy_officer",
        }
    }

    /// Brand admins, analysts and privacy officers belong to one brand; operators and auditors to
    /// none.
    pub fn needs_brand(self) -> bool {
        matches!(self, Self::BrandAdmin | Self::Analyst | Self::PrivacyOfficer)
    }

    pub fn masks_personal_data(self) -> bool {
        self == Self::Analyst
    }
}

/// A signed-in user's reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    pub role: Role,
    /// The one brand of a brand role.
    pub brand: Option<String>,
}

impl Access {
    /// Auditors read who looked at personal data; operators too, as they run the deployment.
    pub fn reads_audit_log(&self) -> bool {
        matches!(self.role, Role::Auditor | Role::Operator)
    }

    /// Whether the user may see this brand's data. Auditors see the audit log, not brand data.
    pub fn sees_brand(&self, slug: &str) -> bool {
        match self.role {
            Role::Operator => true,
            Role::BrandAdmin | Role::Analyst => self.brand.as_deref() == Some(slug),
            Role::Auditor | Role::PrivacyOfficer => false,
        }
    }

    /// Whether the user answers this brand's data-subject requests (export, erasure, the
    /// register): its privacy officer, and operators.
    pub fn answers_privacy_requests(&self, slug: &str) -> bool {
        match self.role {
            Role::Operator => true,
            Role::PrivacyOfficer => self.brand.as_deref() == Some(slug),
            Role::BrandAdmin | Role::Analyst | Role::Auditor => false,
        }
    }

    /// Whether the user may decide this brand's held orders (approve, send the code, reject):
    /// whoever sees the brand's data, so an analyst decides with numbers masked; an auditor
    /// reads the log of decisions and takes none.
    pub fn decides_reviews(&self, slug: &str) -> bool {
        self.sees_brand(slug)
    }

    /// Whether the user may see and change this brand's webhook endpoints, their deliveries and
    /// replays: operators and the brand's admins (the endpoints are the brand's integration).
    pub fn manages_webhooks(&self, slug: &str) -> bool {
        match self.role {
            Role::Operator => true,
            Role::BrandAdmin => self.brand.as_deref() == Some(slug),
            Role::Analyst | Role::Auditor | Role::PrivacyOfficer => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_role_sees_its_brands_only() {
        let operator = Access { role: Role::Operator, brand: None };
        let admin = Access { role: Role::BrandAdmin, brand: Some("alpha".into()) };
        let analyst = Access { role: Role::Analyst, brand: Some("beta".into()) };
        let auditor = Access { role: Role::Auditor, brand: None };
        assert!(operator.sees_brand("alpha") && operator.sees_brand("beta"));
        assert!(admin.sees_brand("alpha") && !admin.sees_brand("beta"));
        assert!(analyst.sees_brand("beta") && !analyst.sees_brand("alpha"));
        assert!(!auditor.sees_brand("alpha"));
        assert!(auditor.reads_audit_log() && operator.reads_audit_log() && !admin.reads_audit_log());
        assert!(analyst.decides_reviews("beta") && !analyst.decides_reviews("alpha"));
        assert!(
            admin.decides_reviews("alpha") && operator.decides_reviews("beta") && !auditor.decides_reviews("alpha")
        );
        assert!(
            operator.manages_webhooks("beta") && admin.manages_webhooks("alpha") && !admin.manages_webhooks("beta")
        );
        assert!(!analyst.manages_webhooks("beta") && !auditor.manages_webhooks("alpha"));
        assert!(Role::Analyst.masks_personal_data() && !Role::BrandAdmin.masks_personal_data());
        assert_eq!(Role::parse("brand_admin"), Some(Role::BrandAdmin));
        assert_eq!(Role::parse("root"), None);
        let officer = Access { role: Role::PrivacyOfficer, brand: Some("alpha".into()) };
        assert!(officer.answers_privacy_requests("alpha") && !officer.answers_privacy_requests("beta"));
        assert!(!officer.sees_brand("alpha"), "requests, not the dashboards");
        assert!(operator.answers_privacy_requests("beta") && !admin.answers_privacy_requests("alpha"));
    }
}
