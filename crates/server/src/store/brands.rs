use super::{Conn, StoreError};

/// Stores a brand declared in the configuration (its full declaration as JSON).
pub fn upsert(conn: &mut dyn Conn, slug: &str, name: &str, config_json: &str, now: i64) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO brands (slug, name, config, updated_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (slug) DO UPDATE SET name = excluded.name, config = excluded.config, updated_at = excluded.updated_at",
        &[slug.into(), name.into(), config_json.into(), now.into()],
    )?;
    Ok(())
}

/// Every brand ever stored: also those since removed from the configuration.
pub fn slugs(conn: &mut dyn Conn) -> Result<Vec<String>, StoreError> {
    conn.query("SELECT slug FROM brands ORDER BY slug", &[])?.iter().map(|r| r.text("slug")).collect()
}

pub fn exists(conn: &mut dyn Conn, slug: &str) -> Result<bool, StoreError> {
    Ok(conn.query_opt("SELECT 1 FROM brands WHERE slug = $1", &[slug.into()])?.is_some())
}

/// Records `version` as the brand's policy version unless it already is. Gives the version it
/// replaced (`None` the first time) when this call moved it, nothing when the brand already had
/// it. The update is conditional, so of several instances starting with one new policy, exactly
/// one moves it (and records the change).
pub fn record_policy_version(
    conn: &mut dyn Conn,
    slug: &str,
    version: &str,
) -> Result<Option<Option<String>>, StoreError> {
    let previous = conn
        .query_one("SELECT policy_version FROM brands WHERE slug = $1", &[slug.into()])?
        .opt_text("policy_version")?;
    if previous.as_deref() == Some(version) {
        return Ok(None);
    }
    let moved = conn.execute(
        "UPDATE brands SET policy_version = $2 WHERE slug = $1 AND (policy_version IS NULL OR policy_version <> $2)",
        &[slug.into(), version.into()],
    )?;
    Ok((moved == 1).then_some(previous))
}
