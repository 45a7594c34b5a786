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

pub fn exists(conn: &mut dyn Conn, slug: &str) -> Result<bool, StoreError> {
    Ok(conn.query_opt("SELECT 1 FROM brands WHERE slug = $1", &[slug.into()])?.is_some())
}
